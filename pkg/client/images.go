package client

import (
	"context"
	"net/url"

	"github.com/openccm/openccm/pkg/apiv1"
)

// ImageListOptions selects one page of images, optionally filtered. Empty
// filters are not sent.
type ImageListOptions struct {
	ListOptions
	Status         string // pending, building, ready or failed
	ApprovalStatus string // pending, approved or denied
	Type           string // the app type, e.g. edp
}

func (o ImageListOptions) filter() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"status": o.Status, "approval_status": o.ApprovalStatus, "type": o.Type} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// CreateImage creates an image of an app. Images whose measurements are
// given directly are ready at once (HTTP 201); images that need a build job
// (enclave_os, aci) come back with status "pending" (HTTP 202).
func (c *Client) CreateImage(ctx context.Context, accountID, appID string, req apiv1.CreateImageRequest) (*apiv1.Image, error) {
	var img apiv1.Image
	if err := c.post(ctx, path("accounts", accountID, "apps", appID, "images"), req, &img); err != nil {
		return nil, err
	}
	return &img, nil
}

// ListAppImages lists the images of one app.
func (c *Client) ListAppImages(ctx context.Context, accountID, appID string, opts ImageListOptions) (*apiv1.List[apiv1.Image], error) {
	return list[apiv1.Image](ctx, c, path("accounts", accountID, "apps", appID, "images"), opts.filter(), opts.ListOptions)
}

// ListImages lists the images of every app of an account.
func (c *Client) ListImages(ctx context.Context, accountID string, opts ImageListOptions) (*apiv1.List[apiv1.Image], error) {
	return list[apiv1.Image](ctx, c, path("accounts", accountID, "images"), opts.filter(), opts.ListOptions)
}

// GetImage returns one image.
func (c *Client) GetImage(ctx context.Context, accountID, imageID string) (*apiv1.Image, error) {
	var img apiv1.Image
	if err := c.get(ctx, path("accounts", accountID, "images", imageID), nil, &img); err != nil {
		return nil, err
	}
	return &img, nil
}

// DeleteImage deletes an image: nothing attests as it any more, and the
// unexpired certificates issued for it are revoked.
func (c *Client) DeleteImage(ctx context.Context, accountID, imageID string) error {
	return c.del(ctx, path("accounts", accountID, "images", imageID), nil)
}

// GetImageBuild returns the state, progress and log of an image's build job;
// an *Error with code not_found when the image has none.
func (c *Client) GetImageBuild(ctx context.Context, accountID, imageID string) (*apiv1.Build, error) {
	var b apiv1.Build
	if err := c.get(ctx, path("accounts", accountID, "images", imageID, "build"), nil, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// ParseSigstruct asks the server to parse a SIGSTRUCT (base64 of its 1808
// bytes) and returns its fields. It has no side effects.
func (c *Client) ParseSigstruct(ctx context.Context, sigstructBase64 string) (*apiv1.SigstructInfo, error) {
	var info apiv1.SigstructInfo
	if err := c.post(ctx, path("tools", "sigstruct"), apiv1.SigstructRequest{Sigstruct: sigstructBase64}, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// ParseNitroMeasurements asks the server to read the PCRs out of the JSON
// that nitro-cli build-enclave or describe-eif prints. It has no side effects.
func (c *Client) ParseNitroMeasurements(ctx context.Context, measurementJSON string) (*apiv1.NitroMeasurements, error) {
	var m apiv1.NitroMeasurements
	if err := c.post(ctx, path("tools", "nitro-measurements"), apiv1.NitroMeasurementsRequest{MeasurementJSON: measurementJSON}, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// GetImagePolicy downloads an ACI image's ARM template (format "" or "arm")
// or its CCE policy in Rego (format "rego").
func (c *Client) GetImagePolicy(ctx context.Context, accountID, imageID, format string) ([]byte, error) {
	var q url.Values
	if format != "" {
		q = url.Values{"format": {format}}
	}
	var b []byte
	err := c.get(ctx, path("accounts", accountID, "images", imageID, "policy"), q, &b)
	return b, err
}

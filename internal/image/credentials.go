package image

import (
	"context"
	"fmt"
	"strings"

	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/store"
)

// Credentials are a registry user name and password; the zero value means
// anonymous access.
type Credentials struct {
	Username, Password string
}

// BuildCredentials opens the registry credentials a build of img uses:
// pull for its input image and push for its output image (enclave_os
// only). A saved registry deleted since the image was created is an
// errs.Invalid error naming the setting, which retrying cannot fix.
func (s *Service) BuildCredentials(ctx context.Context, img *store.Image) (pull, push Credentials, err error) {
	st := img.Settings
	switch img.Type {
	case store.AppEnclaveOS:
		if pull, err = s.saved(ctx, img.AccountID, "input_registry_id", st.InputRegistryID); err != nil {
			return pull, push, err
		}
		switch {
		case st.UseInputCredentialsForOutput:
			push = pull
		case st.HasInlineCredentials:
			push, err = s.inline(img)
		default:
			push, err = s.saved(ctx, img.AccountID, "output_registry_id", st.OutputRegistryID)
		}
		return pull, push, err
	case store.AppACI:
		if st.HasInlineCredentials {
			pull, err = s.inline(img)
		} else {
			pull, err = s.saved(ctx, img.AccountID, "registry_id", st.RegistryID)
		}
		return pull, push, err
	default:
		return pull, push, fmt.Errorf("image: %s images are not built", img.Type)
	}
}

func (s *Service) saved(ctx context.Context, accountID, field, registryID string) (Credentials, error) {
	if registryID == "" {
		return Credentials{}, nil
	}
	u, p, err := s.regs.Credentials(ctx, accountID, registryID)
	if errs.Is(errs.NotFound, err) {
		return Credentials{}, errs.Invalidf(field, "the saved registry %s was deleted after the image was created; create a new image", registryID)
	}
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{Username: u, Password: p}, nil
}

func (s *Service) inline(img *store.Image) (Credentials, error) {
	pt, err := s.box.Open(img.CredentialsCiphertext, credentialsAAD(img.AccountID, img.ID))
	if err != nil {
		return Credentials{}, fmt.Errorf("image: opening the credentials of %s: %w", img.ID, err)
	}
	u, p, ok := strings.Cut(string(pt), "\x00")
	if !ok {
		return Credentials{}, fmt.Errorf("image: the credentials of %s are malformed", img.ID)
	}
	return Credentials{Username: u, Password: p}, nil
}

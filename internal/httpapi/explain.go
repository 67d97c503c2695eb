package httpapi

import (
	"net/http"

	"github.com/openccm/openccm/internal/attest"
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/pkg/apiv1"
)

func (a *API) explain(w http.ResponseWriter, r *http.Request, c *call) error {
	var req apiv1.ExplainRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	q := attest.Query{Platform: req.Platform, AppID: req.AppID, Measurements: req.Measurements}
	if req.Platform == "azure_cvm" && req.Measurements != nil {
		return errs.Invalidf("measurements", "is not used for azure_cvm: give pcrs")
	}
	if req.Platform != "azure_cvm" && req.PCRs != nil {
		return errs.Invalidf("pcrs", "is used for azure_cvm only: give measurements")
	}
	if req.Platform == "azure_cvm" {
		pcrs, err := attest.ParsePCRs(req.PCRs)
		if err != nil {
			return err
		}
		q.PCRs = pcrs
	}
	d, err := a.attest.Select(r.Context(), c.accountID, q)
	if err != nil {
		return err
	}
	out := apiv1.Explanation{Result: d.Result, Steps: nonNil(d.Steps)}
	if d.Image != nil {
		out.SelectedImageID = &d.Image.ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

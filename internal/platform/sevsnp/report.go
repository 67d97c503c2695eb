package sevsnp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"

	"github.com/openccm/openccm/internal/platform"
)

// debugPolicyBit is the guest policy's DEBUG bit: the host may decrypt the
// guest's memory.
const debugPolicyBit = 1 << 19

// report is a parsed attestation report.
type report struct {
	raw    []byte // exactly abi.ReportSize bytes
	pb     *spb.Report
	signer abi.SignerInfo
	// productLine is the product line the report itself names (version 3
	// and later carry the CPU family, model and stepping), or "" when
	// only the VCEK's product name tells (version 2).
	productLine string
}

// parseReport parses a raw attestation report. It accepts exactly what
// go-sev-guest accepts (versions 2 to 5, a well-formed guest policy and
// signer info, zero reserved fields) and, beyond that, only reports that
// go-sev-guest encodes back to the same bytes: the chain check verifies the
// signature over the re-encoded report, the cache-hit path over the raw
// bytes, and the two must be the same bytes.
func parseReport(b []byte) (*report, error) {
	if len(b) != abi.ReportSize {
		return nil, fmt.Errorf("report is %d bytes, want %d", len(b), abi.ReportSize)
	}
	if err := abi.ValidateReportFormat(b); err != nil {
		return nil, err
	}
	pb, err := abi.ReportToProto(b)
	if err != nil {
		return nil, err
	}
	signer, err := abi.ParseSignerInfo(pb.GetSignerInfo())
	if err != nil {
		return nil, err
	}
	again, err := abi.ReportToAbiBytes(pb)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, b) {
		return nil, errors.New("report has bytes that its fields do not account for")
	}
	r := &report{raw: b, pb: pb, signer: signer}
	if fms := pb.GetCpuid1EaxFms(); fms != 0 {
		r.productLine = kds.ProductLineFromFms(fms)
	}
	return r, nil
}

// matchVCEK checks that the VCEK is the one AMD issued for the chip and the
// TCB the report states: the checks go-sev-guest's validate.SnpAttestation
// makes between a report and its VCEK. They depend on the report, so they
// run on every verification, cached chain or not.
func matchVCEK(r *report, ext *kds.Extensions) error {
	chip := r.pb.GetChipId()
	// A host may mask the chip ID (all zeros); the VCEK's signature still
	// names the chip.
	if !allZero(chip) && !bytes.Equal(chip, ext.HWID) {
		return errors.New("VCEK is for another chip than the report's CHIP_ID")
	}
	reported := kds.TCBVersion(r.pb.GetReportedTcb())
	if ext.TCBVersion != reported {
		return fmt.Errorf("VCEK is for TCB %#x, not the report's REPORTED_TCB %#x", uint64(ext.TCBVersion), uint64(reported))
	}
	current := kds.DecomposeTCBVersion(kds.TCBVersion(r.pb.GetCurrentTcb()))
	if !kds.TCBPartsLE(kds.DecomposeTCBVersion(ext.TCBVersion), current) {
		return fmt.Errorf("VCEK's TCB %#x is above the report's CURRENT_TCB %#x", uint64(ext.TCBVersion), r.pb.GetCurrentTcb())
	}
	return nil
}

// checkBinding checks that report_data is the binding followed by 32 zero
// bytes, when there is a binding to check.
func checkBinding(r *report, binding *[32]byte) error {
	if binding == nil {
		return nil
	}
	rd := r.pb.GetReportData()
	if !bytes.Equal(rd[:32], binding[:]) {
		return platform.Reject(platform.ReasonBindingMismatch, "sevsnp: report_data[0:32] is not the request's binding")
	}
	if !allZero(rd[32:]) {
		return platform.Reject(platform.ReasonBindingMismatch, "sevsnp: report_data[32:64] is not zero")
	}
	return nil
}

// claims returns the facts a verified report proves. productLine is the
// report's product line (from the report or its VCEK), hwid the chip ID its
// VCEK certifies.
func claims(p platform.Platform, r *report, productLine string, hwid []byte) *platform.Claims {
	pb := r.pb
	policy := pb.GetPolicy()
	vmpl := int(pb.GetVmpl())
	c := &platform.Claims{
		Platform:    p,
		Debug:       policy&debugPolicyBit != 0,
		Measurement: hex.EncodeToString(pb.GetMeasurement()),
		VMPL:        &vmpl,
		HostData:    hex.EncodeToString(pb.GetHostData()),
		Policy:      &policy,
		ChipID:      hex.EncodeToString(hwid),
		TCB:         map[string]uint8{},
		ReportData:  hex.EncodeToString(pb.GetReportData()),
		Extra: map[string]string{
			"report_version": strconv.FormatUint(uint64(pb.GetVersion()), 10),
			"guest_svn":      strconv.FormatUint(uint64(pb.GetGuestSvn()), 10),
			"product_line":   productLine,
		},
	}
	for _, t := range []struct {
		name string
		tcb  uint64
	}{
		{"reported", pb.GetReportedTcb()},
		{"current", pb.GetCurrentTcb()},
		{"committed", pb.GetCommittedTcb()},
		{"launch", pb.GetLaunchTcb()},
	} {
		for part, v := range tcbParts(productLine, t.tcb) {
			c.TCB[t.name+"_"+part] = v
		}
	}
	return c
}

// tcbParts splits a TCB_VERSION into its named security patch levels. Turin
// (family 1Ah) moved the fields and added the FMC's; the other product
// lines share one layout.
func tcbParts(productLine string, tcb uint64) map[string]uint8 {
	b := func(i int) uint8 { return uint8(tcb >> (8 * i)) }
	if productLine == "Turin" {
		return map[string]uint8{"fmc": b(0), "bootloader": b(1), "tee": b(2), "snp": b(3), "microcode": b(7)}
	}
	return map[string]uint8{"bootloader": b(0), "tee": b(1), "snp": b(6), "microcode": b(7)}
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

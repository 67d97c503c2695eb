package sgx

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// tcbInfoJSON is the tcbInfo member of a TCB info body, versions 2 and 3
// (Intel SGX PCS API, "TCB Info V2/V3").
type tcbInfoJSON struct {
	ID                      string         `json:"id"`
	Version                 int            `json:"version"`
	IssueDate               time.Time      `json:"issueDate"`
	NextUpdate              time.Time      `json:"nextUpdate"`
	FMSPC                   string         `json:"fmspc"`
	PCEID                   string         `json:"pceId"`
	TCBType                 *int           `json:"tcbType"`
	TCBEvaluationDataNumber int            `json:"tcbEvaluationDataNumber"`
	TCBLevels               []tcbLevelJSON `json:"tcbLevels"`
}

type tcbLevelJSON struct {
	// TCB is {"sgxtcbcomp01svn": n, …, "sgxtcbcomp16svn": n, "pcesvn": n}
	// in version 2 and {"sgxtcbcomponents": [{"svn": n}, …], "pcesvn": n}
	// (with TDX components for TDX) in version 3.
	TCB         map[string]json.RawMessage `json:"tcb"`
	TCBDate     string                     `json:"tcbDate"`
	TCBStatus   string                     `json:"tcbStatus"`
	AdvisoryIDs []string                   `json:"advisoryIDs"`
}

// parseTCBInfo parses a (verified) tcbInfo member: an SGX TCB info of
// version 2 or 3 and TCB type 0, every level with 16 SGX components, a
// PCESVN and a status Intel defines.
func parseTCBInfo(b []byte) (*tcbInfo, error) {
	var j tcbInfoJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, err
	}
	switch {
	case j.Version != 2 && j.Version != 3:
		return nil, fmt.Errorf("version %d; versions 2 and 3 are supported", j.Version)
	case j.Version == 3 && j.ID != "SGX":
		return nil, fmt.Errorf("TCB info for %q, not SGX", j.ID)
	case j.TCBType == nil || *j.TCBType != 0:
		return nil, errors.New("tcbType is not 0")
	case j.IssueDate.IsZero() || j.NextUpdate.IsZero():
		return nil, errors.New("issueDate or nextUpdate is missing")
	case len(j.TCBLevels) == 0:
		return nil, errors.New("no TCB levels")
	}
	ti := &tcbInfo{version: j.Version, issueDate: j.IssueDate, nextUpdate: j.NextUpdate, evalNumber: j.TCBEvaluationDataNumber}
	if err := hexField("fmspc", j.FMSPC, ti.fmspc[:]); err != nil {
		return nil, err
	}
	if err := hexField("pceId", j.PCEID, ti.pceID[:]); err != nil {
		return nil, err
	}
	for i, l := range j.TCBLevels {
		lvl, err := parseTCBLevel(j.Version, l)
		if err != nil {
			return nil, fmt.Errorf("TCB level %d: %w", i, err)
		}
		ti.levels = append(ti.levels, lvl)
	}
	return ti, nil
}

func parseTCBLevel(version int, l tcbLevelJSON) (tcbLevel, error) {
	lvl := tcbLevel{date: l.TCBDate, status: l.TCBStatus, advisories: l.AdvisoryIDs}
	if !slices.Contains(tcbStatuses, l.TCBStatus) {
		return lvl, fmt.Errorf("unknown tcbStatus %q", l.TCBStatus)
	}
	num := func(name string, raw json.RawMessage, max int) (int, error) {
		var n *int
		if err := json.Unmarshal(raw, &n); err != nil || n == nil || *n < 0 || *n > max {
			return 0, fmt.Errorf("%s is not an integer in 0..%d", name, max)
		}
		return *n, nil
	}
	pce, err := num("pcesvn", l.TCB["pcesvn"], 65535)
	if err != nil {
		return lvl, err
	}
	lvl.pceSVN = uint16(pce)
	if version == 2 {
		for i := range lvl.components {
			name := fmt.Sprintf("sgxtcbcomp%02dsvn", i+1)
			n, err := num(name, l.TCB[name], 255)
			if err != nil {
				return lvl, err
			}
			lvl.components[i] = uint8(n)
		}
		return lvl, nil
	}
	var comps []struct {
		SVN json.RawMessage `json:"svn"`
	}
	if err := json.Unmarshal(l.TCB["sgxtcbcomponents"], &comps); err != nil || len(comps) != len(lvl.components) {
		return lvl, fmt.Errorf("sgxtcbcomponents is not a list of %d components", len(lvl.components))
	}
	for i, c := range comps {
		n, err := num("sgxtcbcomponents["+strconv.Itoa(i)+"].svn", c.SVN, 255)
		if err != nil {
			return lvl, err
		}
		lvl.components[i] = uint8(n)
	}
	return lvl, nil
}

// qeIdentityJSON is the enclaveIdentity member of a QE identity body,
// version 2 (Intel SGX PCS API, "Enclave Identity V2").
type qeIdentityJSON struct {
	ID                      string    `json:"id"`
	Version                 int       `json:"version"`
	IssueDate               time.Time `json:"issueDate"`
	NextUpdate              time.Time `json:"nextUpdate"`
	TCBEvaluationDataNumber int       `json:"tcbEvaluationDataNumber"`
	MiscSelect              string    `json:"miscselect"`
	MiscSelectMask          string    `json:"miscselectMask"`
	Attributes              string    `json:"attributes"`
	AttributesMask          string    `json:"attributesMask"`
	MRSigner                string    `json:"mrsigner"`
	ISVProdID               *int      `json:"isvprodid"`
	TCBLevels               []struct {
		TCB struct {
			ISVSVN *int `json:"isvsvn"`
		} `json:"tcb"`
		TCBDate     string   `json:"tcbDate"`
		TCBStatus   string   `json:"tcbStatus"`
		AdvisoryIDs []string `json:"advisoryIDs"`
	} `json:"tcbLevels"`
}

// parseQEIdentity parses a (verified) enclaveIdentity member: the identity
// of the SGX quoting enclave ("QE"), version 2.
func parseQEIdentity(b []byte) (*qeIdentity, error) {
	var j qeIdentityJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, err
	}
	switch {
	case j.Version != 2:
		return nil, fmt.Errorf("version %d; version 2 is supported", j.Version)
	case j.ID != "QE":
		return nil, fmt.Errorf("identity of %q, not of the SGX quoting enclave (QE)", j.ID)
	case j.IssueDate.IsZero() || j.NextUpdate.IsZero():
		return nil, errors.New("issueDate or nextUpdate is missing")
	case j.ISVProdID == nil || *j.ISVProdID < 0 || *j.ISVProdID > 65535:
		return nil, errors.New("isvprodid is not an integer in 0..65535")
	case len(j.TCBLevels) == 0:
		return nil, errors.New("no TCB levels")
	}
	qi := &qeIdentity{isvProdID: uint16(*j.ISVProdID), nextUpdate: j.NextUpdate, evalNumber: j.TCBEvaluationDataNumber}
	var misc, miscMask [4]byte
	for _, f := range []struct {
		name, v string
		dst     []byte
	}{
		{"miscselect", j.MiscSelect, misc[:]},
		{"miscselectMask", j.MiscSelectMask, miscMask[:]},
		{"attributes", j.Attributes, qi.attributes[:]},
		{"attributesMask", j.AttributesMask, qi.attributesMask[:]},
		{"mrsigner", j.MRSigner, qi.mrSigner[:]},
	} {
		if err := hexField(f.name, f.v, f.dst); err != nil {
			return nil, err
		}
	}
	// The hex strings are the bytes as the report holds them: MISCSELECT
	// is little-endian.
	qi.miscSelect = binary.LittleEndian.Uint32(misc[:])
	qi.miscSelectMask = binary.LittleEndian.Uint32(miscMask[:])
	for i, l := range j.TCBLevels {
		if l.TCB.ISVSVN == nil || *l.TCB.ISVSVN < 0 || *l.TCB.ISVSVN > 65535 {
			return nil, fmt.Errorf("TCB level %d: isvsvn is not an integer in 0..65535", i)
		}
		if !slices.Contains(qeStatuses, l.TCBStatus) {
			return nil, fmt.Errorf("TCB level %d: unknown tcbStatus %q", i, l.TCBStatus)
		}
		qi.levels = append(qi.levels, qeLevel{isvSVN: uint16(*l.TCB.ISVSVN), date: l.TCBDate, status: l.TCBStatus, advisories: l.AdvisoryIDs})
	}
	return qi, nil
}

// hexField decodes a hex string of exactly len(dst) bytes into dst.
func hexField(name, s string, dst []byte) error {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(dst) {
		return fmt.Errorf("%s is not %d hex-encoded bytes", name, len(dst))
	}
	copy(dst, b)
	return nil
}

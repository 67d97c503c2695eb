package sgx

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/platform/platformtest"
)

func TestSelectTCBLevel(t *testing.T) {
	// Intel lists the levels highest first, as here (a shortened copy of
	// the 2020 TCB info for FMSPC 00906EA10000).
	levels := []tcbLevel{
		{components: [16]uint8{14, 14, 2, 4, 1, 128, 7}, pceSVN: 10, status: TCBSWHardeningNeeded},
		{components: [16]uint8{14, 14, 2, 4, 1, 128}, pceSVN: 10, status: TCBConfigurationAndSWHardeningNeeded},
		{components: [16]uint8{13, 13, 2, 4, 1, 128, 3}, pceSVN: 9, status: TCBOutOfDate},
		{components: [16]uint8{13, 13, 2, 4, 1, 128}, pceSVN: 9, status: TCBOutOfDateConfigurationNeeded},
		{components: [16]uint8{5, 5, 2, 4, 1, 128}, pceSVN: 6, status: TCBOutOfDate},
		{components: [16]uint8{2, 2, 2, 4, 1, 128}, pceSVN: 5, status: TCBRevoked},
	}
	tests := []struct {
		name   string
		tcb    [16]uint8
		pceSVN uint16
		want   string // "" for none
	}{
		{"selects the highest level when every component and the PCESVN reach it", [16]uint8{14, 14, 2, 4, 1, 128, 7}, 10, TCBSWHardeningNeeded},
		{"a platform above the highest level has its status", [16]uint8{15, 15, 3, 5, 1, 200, 9, 1}, 11, TCBSWHardeningNeeded},
		{"one component below the highest level selects the next one down", [16]uint8{14, 14, 2, 4, 1, 128, 6}, 10, TCBConfigurationAndSWHardeningNeeded},
		{"a lower PCESVN skips the levels that need a higher one", [16]uint8{14, 14, 2, 4, 1, 128, 7}, 9, TCBOutOfDate},
		{"a component below a level's is never made up by others above it", [16]uint8{13, 200, 200, 200, 200, 200, 200}, 10, TCBOutOfDate},
		{"selects an out-of-date level", [16]uint8{6, 6, 2, 4, 1, 128}, 7, TCBOutOfDate},
		{"selects a revoked level", [16]uint8{4, 4, 2, 4, 1, 128}, 5, TCBRevoked},
		{"finds none below the lowest level", [16]uint8{1, 1, 2, 4, 1, 128}, 5, ""},
		{"finds none with a PCESVN below every level's", [16]uint8{14, 14, 2, 4, 1, 128, 7}, 4, ""},
		{"compares all 16 components", [16]uint8{14, 14, 2, 4, 1, 128, 7, 0, 0, 0, 0, 0, 0, 0, 0, 255}, 10, TCBSWHardeningNeeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, ok := selectTCBLevel(levels, pckTCB{components: tc.tcb, pceSVN: tc.pceSVN})
			if got := map[bool]string{true: l.status, false: ""}[ok]; got != tc.want {
				t.Errorf("selected %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("a level needing a higher sixteenth component is skipped", func(t *testing.T) {
		high := []tcbLevel{{components: [16]uint8{15: 1}, status: TCBUpToDate}, {status: TCBOutOfDate}}
		if l, _ := selectTCBLevel(high, pckTCB{}); l.status != TCBOutOfDate {
			t.Errorf("selected %q", l.status)
		}
	})
}

func TestSelectQELevel(t *testing.T) {
	levels := []qeLevel{{isvSVN: 8, status: TCBUpToDate}, {isvSVN: 6, status: TCBOutOfDate}, {isvSVN: 2, status: TCBRevoked}}
	for svn, want := range map[uint16]string{9: TCBUpToDate, 8: TCBUpToDate, 7: TCBOutOfDate, 6: TCBOutOfDate, 2: TCBRevoked, 1: ""} {
		l, ok := selectQELevel(levels, svn)
		if got := map[bool]string{true: l.status, false: ""}[ok]; got != want {
			t.Errorf("QE ISVSVN %d: %q, want %q", svn, got, want)
		}
	}
}

// TestCombineStatus lists every platform status with every QE status: the
// rule of Intel's convergeTcbStatusWithQeTcbStatus.
func TestCombineStatus(t *testing.T) {
	want := map[string][3]string{ // platform status: combined with QE UpToDate, OutOfDate, Revoked
		TCBUpToDate:                          {TCBUpToDate, TCBOutOfDate, TCBRevoked},
		TCBSWHardeningNeeded:                 {TCBSWHardeningNeeded, TCBOutOfDate, TCBRevoked},
		TCBConfigurationNeeded:               {TCBConfigurationNeeded, TCBOutOfDateConfigurationNeeded, TCBRevoked},
		TCBConfigurationAndSWHardeningNeeded: {TCBConfigurationAndSWHardeningNeeded, TCBOutOfDateConfigurationNeeded, TCBRevoked},
		TCBOutOfDate:                         {TCBOutOfDate, TCBOutOfDate, TCBRevoked},
		TCBOutOfDateConfigurationNeeded:      {TCBOutOfDateConfigurationNeeded, TCBOutOfDateConfigurationNeeded, TCBRevoked},
		TCBRevoked:                           {TCBRevoked, TCBRevoked, TCBRevoked},
	}
	if len(want) != len(tcbStatuses) {
		t.Fatalf("the table covers %d statuses of %d", len(want), len(tcbStatuses))
	}
	for _, p := range tcbStatuses {
		for i, qe := range qeStatuses {
			if got := combineStatus(p, qe); got != want[p][i] {
				t.Errorf("platform %s, QE %s: %s, want %s", p, qe, got, want[p][i])
			}
		}
	}
}

func TestParseTCBInfo(t *testing.T) {
	level3 := `{"tcb":{"sgxtcbcomponents":[{"svn":1},{"svn":2},{"svn":3},{"svn":4},{"svn":5},{"svn":6},{"svn":7},{"svn":8},{"svn":9},{"svn":10},{"svn":11},{"svn":12},{"svn":13},{"svn":14},{"svn":15},{"svn":16}],"pcesvn":13},"tcbDate":"2024-11-13T00:00:00Z","tcbStatus":"UpToDate"}`
	base := `{"id":"SGX","version":3,"issueDate":"2025-06-04T00:16:12Z","nextUpdate":"2025-07-04T00:16:12Z","fmspc":"00906ED50000","pceId":"0000","tcbType":0,"tcbEvaluationDataNumber":19,"tcbLevels":[` + level3 + `]}`
	ti, err := parseTCBInfo([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if ti.levels[0].components != [16]uint8{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16} || ti.levels[0].pceSVN != 13 ||
		!ti.nextUpdate.Equal(time.Date(2025, 7, 4, 0, 16, 12, 0, time.UTC)) {
		t.Errorf("parsed %+v", ti)
	}
	for name, edit := range map[string]func(string) string{
		"version 4":                 func(s string) string { return strings.Replace(s, `"version":3`, `"version":4`, 1) },
		"TDX TCB info":              func(s string) string { return strings.Replace(s, `"id":"SGX"`, `"id":"TDX"`, 1) },
		"TCB type 1":                func(s string) string { return strings.Replace(s, `"tcbType":0`, `"tcbType":1`, 1) },
		"no TCB type":               func(s string) string { return strings.Replace(s, `"tcbType":0,`, ``, 1) },
		"no nextUpdate":             func(s string) string { return strings.Replace(s, `"nextUpdate":"2025-07-04T00:16:12Z",`, ``, 1) },
		"a short FMSPC":             func(s string) string { return strings.Replace(s, `00906ED50000`, `00906ED500`, 1) },
		"a PCE ID that is not hex":  func(s string) string { return strings.Replace(s, `"pceId":"0000"`, `"pceId":"zz00"`, 1) },
		"no levels":                 func(s string) string { return strings.Replace(s, level3, ``, 1) },
		"15 components":             func(s string) string { return strings.Replace(s, `{"svn":16}`, ``, 1) },
		"a component over 255":      func(s string) string { return strings.Replace(s, `{"svn":16}`, `{"svn":256}`, 1) },
		"a negative component":      func(s string) string { return strings.Replace(s, `{"svn":16}`, `{"svn":-1}`, 1) },
		"a fractional component":    func(s string) string { return strings.Replace(s, `{"svn":16}`, `{"svn":1.5}`, 1) },
		"no PCESVN":                 func(s string) string { return strings.Replace(s, `,"pcesvn":13`, ``, 1) },
		"an unknown status":         func(s string) string { return strings.Replace(s, `"UpToDate"`, `"Excellent"`, 1) },
		"a version 2 layout in v3":  func(s string) string { return strings.Replace(s, `"sgxtcbcomponents"`, `"sgxtcbcomp01svn"`, 1) },
		"not an object":             func(string) string { return `[]` },
		"a string for the version":  func(s string) string { return strings.Replace(s, `"version":3`, `"version":"3"`, 1) },
		"a bad issue date":          func(s string) string { return strings.Replace(s, `2025-06-04T00:16:12Z`, `yesterday`, 1) },
		"a version 2 without comps": func(s string) string { return strings.Replace(s, `"version":3`, `"version":2`, 1) },
	} {
		if _, err := parseTCBInfo([]byte(edit(base))); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestParseQEIdentity(t *testing.T) {
	base := `{"id":"QE","version":2,"issueDate":"2025-06-06T12:02:04Z","nextUpdate":"2025-07-06T12:02:04Z","tcbEvaluationDataNumber":19,"miscselect":"01000000","miscselectMask":"FFFFFFFF","attributes":"11000000000000000000000000000000","attributesMask":"FBFFFFFFFFFFFFFF0000000000000000","mrsigner":"8C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B094490C57BFF","isvprodid":1,"tcbLevels":[{"tcb":{"isvsvn":8},"tcbDate":"2025-05-14T00:00:00Z","tcbStatus":"UpToDate"}]}`
	qi, err := parseQEIdentity([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if qi.miscSelect != 1 || qi.miscSelectMask != 0xffffffff || qi.mrSigner != intelQE.mrSigner || qi.levels[0].isvSVN != 8 {
		t.Errorf("parsed %+v", qi)
	}
	for name, edit := range map[string]func(string) string{
		"version 1":            func(s string) string { return strings.Replace(s, `"version":2`, `"version":1`, 1) },
		"the TD QE's identity": func(s string) string { return strings.Replace(s, `"id":"QE"`, `"id":"TD_QE"`, 1) },
		"a short MRSIGNER":     func(s string) string { return strings.Replace(s, `90C57BFF"`, `90C57B"`, 1) },
		"no ISVPRODID":         func(s string) string { return strings.Replace(s, `"isvprodid":1,`, ``, 1) },
		"an ISVPRODID too big": func(s string) string { return strings.Replace(s, `"isvprodid":1`, `"isvprodid":65536`, 1) },
		"a level without SVN":  func(s string) string { return strings.Replace(s, `{"isvsvn":8}`, `{}`, 1) },
		"a status QEs lack":    func(s string) string { return strings.Replace(s, `"UpToDate"`, `"SWHardeningNeeded"`, 1) },
		"no levels":            func(s string) string { return s[:strings.Index(s, `[`)+1] + `]}` },
		"a short attributes": func(s string) string {
			return strings.Replace(s, `"attributes":"11000000000000000000000000000000"`, `"attributes":"11"`, 1)
		},
		"no nextUpdate":          func(s string) string { return strings.Replace(s, `"nextUpdate":"2025-07-06T12:02:04Z",`, ``, 1) },
		"a miscselect not hex":   func(s string) string { return strings.Replace(s, `"01000000"`, `"0100000g"`, 1) },
		"truncated":              func(s string) string { return s[:len(s)-1] },
		"an array of identities": func(s string) string { return "[" + s + "]" },
	} {
		if _, err := parseQEIdentity([]byte(edit(base))); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestSplitSigned(t *testing.T) {
	sig := strings.Repeat("ab", 64)
	signed, _, err := splitSigned(`{"tcbInfo": {"a": 1,  "b": "x y"},"signature":"`+sig+`"}`, "tcbInfo")
	if err != nil || string(signed) != `{"a":1,"b":"x y"}` {
		t.Errorf("signed bytes %q, %v", signed, err)
	}
	for name, body := range map[string]string{
		"no member":              `{"signature":"` + sig + `"}`,
		"a member not an object": `{"tcbInfo":[1],"signature":"` + sig + `"}`,
		"no signature":           `{"tcbInfo":{}}`,
		"a short signature":      `{"tcbInfo":{},"signature":"abcd"}`,
		"a signature not hex":    `{"tcbInfo":{},"signature":"` + strings.Repeat("zz", 64) + `"}`,
		"trailing data":          `{"tcbInfo":{},"signature":"` + sig + `"}x`,
		"not JSON":               `tcbInfo`,
	} {
		if _, _, err := splitSigned(body, "tcbInfo"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzCollateral feeds the collateral decoding and the parsers of the two
// documents arbitrary bytes: they must never panic, and what they accept
// must be usable.
func FuzzCollateral(f *testing.F) {
	for _, name := range []string{"tcb_info_00906ea10000_2020.json", "qe_identity_2020.json", "tcb_info_00906ed50000_2025.json", "qe_identity_2025.json"} {
		f.Add(readSample(f, name))
	}
	ca := platformtest.NewSGX(f)
	col := ca.Collateral(platformtest.SGXCollateral{})
	f.Add(col)
	var c Collateral
	if err := json.Unmarshal(col, &c); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(c.TCBInfo))
	f.Add([]byte(c.QEIdentity))
	f.Add([]byte(c.TCBInfoIssuerChain))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := decodeCollateral(b); err == nil && (c.TCBInfo == "" || c.QEIdentityIssuerChain == "") {
			t.Fatal("accepted collateral with a member missing")
		}
		for _, member := range []string{"tcbInfo", "enclaveIdentity"} {
			if signed, _, err := splitSigned(string(b), member); err == nil {
				_, _ = parseTCBInfo(signed)
				_, _ = parseQEIdentity(signed)
			}
		}
		if ti, err := parseTCBInfo(b); err == nil {
			if len(ti.levels) == 0 {
				t.Fatal("accepted a TCB info without levels")
			}
			_, _ = selectTCBLevel(ti.levels, pckTCB{})
		}
		if qi, err := parseQEIdentity(b); err == nil {
			if len(qi.levels) == 0 {
				t.Fatal("accepted a QE identity without levels")
			}
			_ = qi.match(&reportBody{})
		}
		_, _ = parseIssuerChain(string(b))
	})
}

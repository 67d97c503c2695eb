package nitro

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/openccm/openccm/internal/errs"
)

// Values of an unsigned test image.
const (
	pcr0 = "f9ef9e90faeaa081ecc89e9b42d9ae3cd66e614dbd6e291c26dcab57cf843f0da7aa6825174426a0ac5dfa566b718691"
	pcr1 = "82a2cfa214294146a721ad48b3e7de920129c3aa41d5d022d443ada80b8593a9f8192a489bcf07eb820eb497698dbc15"
	pcr2 = "ca31eca09bb3daca85dcd224ccd52dfe172e8a194337dd3b1cdb256a459c2e27038a6945ac39de66cad1b214153efaff"
)

// The signed image of aws-nitro-enclaves-cli's docs/image_signing.md.
const (
	signedPCR0 = "55c0acc442fd815e161f100c45810298f5c37ce9f61b675e4f8ba82e32b9bab3b674a6ef557eaa7db7577221683bbe9f"
	signedPCR1 = "aca6e62ffbf5f7deccac452d7f8cee1b94048faf62afc16c8ab68c9fed8c38010c73a669f9a36e596032f0b973d21895"
	signedPCR2 = "41e46bdda449ee3fd792772e5b766cb090d2a4a1b0e5a0c5e52c84d426c76cfd298ea725500a107e71399697df2ae2eb"
	signedPCR8 = "70da58334a884328944cd806127c7784677ab60a154249fd21546a217299ccfa1ebfe4fa96a163bf41d3bcfaebe68f6f"
)

// buildEnclaveOutput is what `nitro-cli build-enclave` prints on stdout
// (serde_json's pretty printer) for an unsigned image.
var buildEnclaveOutput = `{
  "Measurements": {
    "HashAlgorithm": "Sha384 { ... }",
    "PCR0": "` + pcr0 + `",
    "PCR1": "` + pcr1 + `",
    "PCR2": "` + pcr2 + `"
  }
}
`

// signedBuildEnclaveOutput is docs/image_signing.md's example, tabs and all.
var signedBuildEnclaveOutput = "{\n\t\"Measurements\": {\n\t\t\"HashAlgorithm\": \"Sha384 { ... }\",\n" +
	"\t\t\"PCR0\": \"" + signedPCR0 + "\",\n\t\t\"PCR1\": \"" + signedPCR1 + "\",\n" +
	"\t\t\"PCR2\": \"" + signedPCR2 + "\",\n\t\t\"PCR8\": \"" + signedPCR8 + "\"\n\t}\n}\n"

// describeEIFOutput is `nitro-cli describe-eif` on an unsigned image with
// metadata (EifDescribeInfo in src/common/json_output.rs).
var describeEIFOutput = `{
  "EifVersion": 4,
  "Measurements": {
    "HashAlgorithm": "Sha384 { ... }",
    "PCR0": "` + pcr0 + `",
    "PCR1": "` + pcr1 + `",
    "PCR2": "` + pcr2 + `"
  },
  "IsSigned": false,
  "CheckCRC": true,
  "ImageName": "hello-enclave",
  "ImageVersion": "1.0.0",
  "Metadata": {
    "BuildTime": "2024-05-02T10:04:11.843853271+00:00",
    "BuildTool": "nitro-cli",
    "BuildToolVersion": "1.3.1",
    "OperatingSystem": "Linux",
    "KernelVersion": "6.1",
    "DockerInfo": {
      "Architecture": "amd64",
      "Config": {"Cmd": ["/bin/hello"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
      "Created": "2024-05-02T10:03:58.12Z",
      "Id": "sha256:0d3c6b2d4a2f6e1d0f5a4b1a9c4e7d3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d",
      "Os": "linux",
      "RepoTags": ["hello-enclave:latest"]
    },
    "Measurements": "this custom metadata key is not the PCRs"
  }
}
`

// signedDescribeEIFOutput is `nitro-cli describe-eif` on a signed image.
var signedDescribeEIFOutput = `{
  "EifVersion": 4,
  "Measurements": {
    "HashAlgorithm": "Sha384 { ... }",
    "PCR0": "` + signedPCR0 + `",
    "PCR1": "` + signedPCR1 + `",
    "PCR2": "` + signedPCR2 + `",
    "PCR8": "` + signedPCR8 + `"
  },
  "IsSigned": true,
  "SigningCertificate": {
    "IssuerName": {
      "commonName": "enclave-signer",
      "countryName": "DE",
      "organizationName": "Example"
    },
    "Algorithm": "ecdsa-with-SHA384",
    "NotBefore": "May  2 10:00:00 2024 GMT",
    "NotAfter": "May  2 10:00:00 2025 GMT",
    "Signature": "30:65:02:31:00:9C:1E:5A:7F"
  },
  "CheckCRC": true,
  "SignatureCheck": true,
  "ImageName": "hello-enclave",
  "ImageVersion": "1.0.0"
}
`

func measurementsJSON(members ...string) string {
	return "{" + strings.Join(members, ",") + "}"
}

func kv(k, v string) string { return fmt.Sprintf("%q: %q", k, v) }

func TestParseMeasurementsAcceptsNitroCLIOutput(t *testing.T) {
	unsigned := Measurements{PCR0: pcr0, PCR1: pcr1, PCR2: pcr2}
	signed := Measurements{PCR0: signedPCR0, PCR1: signedPCR1, PCR2: signedPCR2, PCR8: signedPCR8}
	tests := []struct {
		name string
		text string
		want Measurements
	}{
		{"reads build-enclave output", buildEnclaveOutput, unsigned},
		{"reads build-enclave output of a signed image with PCR8", signedBuildEnclaveOutput, signed},
		{"reads describe-eif output", describeEIFOutput, unsigned},
		{"reads describe-eif output of a signed image with PCR8", signedDescribeEIFOutput, signed},
		{
			"reads the Measurements object on its own",
			measurementsJSON(kv("HashAlgorithm", "Sha384 { ... }"), kv("PCR0", pcr0), kv("PCR1", pcr1), kv("PCR2", pcr2)),
			unsigned,
		},
		{"reads PCRs without a hash algorithm", measurementsJSON(kv("PCR0", pcr0), kv("PCR1", pcr1), kv("PCR2", pcr2)), unsigned},
		{"reads PCRs in any order", measurementsJSON(kv("PCR2", pcr2), kv("PCR0", pcr0), kv("PCR1", pcr1)), unsigned},
		{
			"reads the output on one line",
			`{"Measurements":{"HashAlgorithm":"Sha384 { ... }","PCR0":"` + pcr0 + `","PCR1":"` + pcr1 + `","PCR2":"` + pcr2 + `"}}`,
			unsigned,
		},
		{
			"skips nitro-cli's progress lines when the terminal output is pasted whole",
			"Start building the Enclave Image...\nUsing the locally available Docker image...\nEnclave Image successfully created.\n" + buildEnclaveOutput,
			unsigned,
		},
		{
			"lower-cases upper-case hex and strips 0x",
			measurementsJSON(kv("PCR0", "0x"+strings.ToUpper(pcr0)), kv("PCR1", "0X"+pcr1), kv("PCR2", " "+strings.ToUpper(pcr2)+" ")),
			unsigned,
		},
		{"reads member names in any case", `{"measurements": ` + measurementsJSON(kv("pcr0", pcr0), kv("Pcr1", pcr1), kv("PCR2", pcr2)) + `}`, unsigned},
		{"reads a hash algorithm written SHA384", measurementsJSON(kv("HashAlgorithm", "SHA384"), kv("PCR0", pcr0), kv("PCR1", pcr1), kv("PCR2", pcr2)), unsigned},
		{"reads an older hasher's Debug form", measurementsJSON(kv("HashAlgorithm", "Sha384 { engine: Engine512 { len: 0 } }"), kv("PCR0", pcr0), kv("PCR1", pcr1), kv("PCR2", pcr2)), unsigned},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMeasurements(tc.text)
			if err != nil {
				t.Fatalf("ParseMeasurements: %v", err)
			}
			if *got != tc.want {
				t.Errorf("got %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestParseMeasurementsRejectsBadInput(t *testing.T) {
	zero := strings.Repeat("0", 96)
	tests := []struct {
		name string
		text string
		msg  string
	}{
		{"rejects empty text", "", "nitro: measurement JSON is empty"},
		{"rejects blank text", " \n\t ", "nitro: measurement JSON is empty"},
		{"rejects text that is not JSON", "PCR0: " + pcr0, "nitro: measurement JSON is not valid JSON"},
		{"rejects truncated JSON", buildEnclaveOutput[:200], "nitro: measurement JSON is not valid JSON"},
		{"rejects JSON null", "null", "nitro: measurement JSON is not a JSON object"},
		{"rejects an array of describe-enclaves results", "[" + buildEnclaveOutput + "]", "nitro: measurement JSON is not a JSON object"},
		{"rejects a pretty-printed array", "[\n" + buildEnclaveOutput + "]\n", "nitro: measurement JSON is not a JSON object"},
		{"rejects a second object after the first", buildEnclaveOutput + buildEnclaveOutput, "nitro: measurement JSON has more after its object"},
		{"rejects text after the object", buildEnclaveOutput + "done\n", "nitro: measurement JSON has more after its object"},
		{"rejects an object of another shape", `{"EifVersion": 4, "IsSigned": false}`, "nitro: measurement JSON has neither a Measurements object nor PCR values"},
		{"rejects an empty object", `{}`, "nitro: measurement JSON has neither a Measurements object nor PCR values"},
		{"rejects Measurements that is a string", `{"Measurements": "` + pcr0 + `"}`, "nitro: Measurements is not a JSON object"},
		{"rejects Measurements that is null", `{"Measurements": null}`, "nitro: Measurements is not a JSON object"},
		{"rejects a missing PCR0", measurementsJSON(kv("PCR1", pcr1), kv("PCR2", pcr2)), "nitro: measurement JSON has no PCR0"},
		{"rejects a missing PCR1", `{"Measurements": ` + measurementsJSON(kv("HashAlgorithm", "Sha384 { ... }"), kv("PCR0", pcr0), kv("PCR2", pcr2)) + `}`, "nitro: measurement JSON has no PCR1"},
		{"rejects a missing PCR2", measurementsJSON(kv("PCR0", pcr0), kv("PCR1", pcr1), kv("PCR8", signedPCR8)), "nitro: measurement JSON has no PCR2"},
		{"rejects an empty Measurements object", `{"Measurements": {}}`, "nitro: measurement JSON has no PCR0"},
		{"rejects an empty PCR", measurementsJSON(kv("PCR0", ""), kv("PCR1", pcr1), kv("PCR2", pcr2)), "nitro: PCR0 must be 96 hex characters (SHA-384), got 0"},
		{"rejects a short PCR", measurementsJSON(kv("PCR0", pcr0), kv("PCR1", pcr1[:95]), kv("PCR2", pcr2)), "nitro: PCR1 must be 96 hex characters (SHA-384), got 95"},
		{"rejects a long PCR", measurementsJSON(kv("PCR0", pcr0), kv("PCR1", pcr1), kv("PCR2", pcr2+"0")), "nitro: PCR2 must be 96 hex characters (SHA-384), got 97"},
		{"rejects a SHA-256 sized PCR", measurementsJSON(kv("PCR0", pcr0[:64]), kv("PCR1", pcr1), kv("PCR2", pcr2)), "nitro: PCR0 must be 96 hex characters (SHA-384), got 64"},
		{"rejects a PCR8 of the wrong length", measurementsJSON(kv("PCR0", pcr0), kv("PCR1", pcr1), kv("PCR2", pcr2), kv("PCR8", "abcd")), "nitro: PCR8 must be 96 hex characters (SHA-384), got 4"},
		{"rejects a PCR that is not hex", measurementsJSON(kv("PCR0", "g"+pcr0[1:]), kv("PCR1", pcr1), kv("PCR2", pcr2)), "nitro: PCR0 is not hexadecimal"},
		{"rejects a PCR given as a number", `{"PCR0": 1, "PCR1": "` + pcr1 + `", "PCR2": "` + pcr2 + `"}`, `nitro: measurement JSON member "PCR0" is not a string`},
		{"rejects an all-zero PCR0 of a debug-mode enclave", measurementsJSON(kv("PCR0", zero), kv("PCR1", pcr1), kv("PCR2", pcr2)), "nitro: PCR0 is all zeros, the value of an enclave in debug mode"},
		{"rejects an all-zero PCR8", measurementsJSON(kv("PCR0", pcr0), kv("PCR1", pcr1), kv("PCR2", pcr2), kv("PCR8", zero)), "nitro: PCR8 is all zeros, the value of an enclave in debug mode"},
		{"rejects a SHA-256 hash algorithm", measurementsJSON(kv("HashAlgorithm", "Sha256 { ... }"), kv("PCR0", pcr0), kv("PCR1", pcr1), kv("PCR2", pcr2)), `nitro: measurement JSON hash algorithm is "Sha256 { ... }", want Sha384`},
		{"rejects a SHA-512 hash algorithm", measurementsJSON(kv("HashAlgorithm", "Sha512"), kv("PCR0", pcr0), kv("PCR1", pcr1), kv("PCR2", pcr2)), `nitro: measurement JSON hash algorithm is "Sha512", want Sha384`},
		{"rejects a hash algorithm that only starts like Sha384", measurementsJSON(kv("HashAlgorithm", "Sha3840"), kv("PCR0", pcr0), kv("PCR1", pcr1), kv("PCR2", pcr2)), `nitro: measurement JSON hash algorithm is "Sha3840", want Sha384`},
		{"rejects an unknown PCR", measurementsJSON(kv("PCR0", pcr0), kv("PCR1", pcr1), kv("PCR2", pcr2), kv("PCR3", pcr2)), `nitro: measurement JSON has an unknown member "PCR3" among the PCRs`},
		{"does not take a Unicode look-alike for HashAlgorithm", measurementsJSON(kv("HaſhAlgorithm", "Sha256"), kv("PCR0", pcr0), kv("PCR1", pcr1), kv("PCR2", pcr2)), `nitro: measurement JSON has an unknown member "HaſhAlgorithm" among the PCRs`},
		{"does not take a Unicode look-alike for Sha384", measurementsJSON(kv("HashAlgorithm", "ſha384"), kv("PCR0", pcr0), kv("PCR1", pcr1), kv("PCR2", pcr2)), `nitro: measurement JSON hash algorithm is "ſha384", want Sha384`},
		{"shortens a long unknown member name in the message", measurementsJSON(kv(strings.Repeat("x", 100), ""), kv("PCR0", pcr0)), `nitro: measurement JSON has an unknown member "` + strings.Repeat("x", 40) + `…" among the PCRs`},
		{"rejects a duplicate PCR0", measurementsJSON(kv("PCR0", pcr0), kv("PCR1", pcr1), kv("PCR2", pcr2), kv("PCR0", pcr1)), `nitro: measurement JSON has "PCR0" twice`},
		{"rejects a duplicate PCR0 spelt in another case", `{"Measurements": ` + measurementsJSON(kv("PCR0", pcr0), kv("pcr0", pcr1), kv("PCR1", pcr1), kv("PCR2", pcr2)) + `}`, `nitro: Measurements has "pcr0" twice`},
		{"rejects two Measurements members", `{"Measurements": {}, "Measurements": {}}`, `nitro: measurement JSON has "Measurements" twice`},
		{"rejects PCRs both beside and inside Measurements", `{"PCR0": "` + pcr1 + `", "Measurements": ` + measurementsJSON(kv("PCR0", pcr0), kv("PCR1", pcr1), kv("PCR2", pcr2)) + `}`, `nitro: measurement JSON has "PCR0" both beside and inside Measurements`},
		{"rejects text over 64 KiB", buildEnclaveOutput + strings.Repeat(" ", MaxMeasurementJSON), fmt.Sprintf("nitro: measurement JSON is %d bytes, more than the 64 KiB allowed", len(buildEnclaveOutput)+MaxMeasurementJSON)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMeasurements(tc.text)
			if err == nil {
				t.Fatalf("ParseMeasurements accepted it: %+v", *got)
			}
			var e *errs.Error
			if !errors.As(err, &e) {
				t.Fatalf("error = %v, want an *errs.Error", err)
			}
			if e.Kind != errs.Invalid || e.Field != "measurement_json" || e.Msg != tc.msg {
				t.Errorf("error = {%v %q %q}, want {invalid \"measurement_json\" %q}", e.Kind, e.Field, e.Msg, tc.msg)
			}
		})
	}
}

var pcrPattern = regexp.MustCompile(`^[0-9a-f]{96}$`)

func FuzzParseMeasurements(f *testing.F) {
	for _, s := range []string{
		buildEnclaveOutput, signedBuildEnclaveOutput, describeEIFOutput, signedDescribeEIFOutput,
		measurementsJSON(kv("PCR0", pcr0), kv("PCR1", pcr1), kv("PCR2", pcr2)),
		"Start building the Enclave Image...\n" + buildEnclaveOutput,
		`{"Measurements": {"PCR0": 1}}`, "[]", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		m, err := ParseMeasurements(text)
		if err != nil {
			if m != nil || errs.KindOf(err) != errs.Invalid {
				t.Fatalf("ParseMeasurements = %v, %v", m, err)
			}
			return
		}
		for _, v := range []string{m.PCR0, m.PCR1, m.PCR2} {
			if !pcrPattern.MatchString(v) {
				t.Fatalf("PCR %q is not 96 lower-case hex characters", v)
			}
		}
		if m.PCR8 != "" && !pcrPattern.MatchString(m.PCR8) {
			t.Fatalf("PCR8 %q is not 96 lower-case hex characters", m.PCR8)
		}
		// What was read reads back the same from build-enclave's shape.
		pcrs := map[string]string{"HashAlgorithm": "Sha384 { ... }", "PCR0": m.PCR0, "PCR1": m.PCR1, "PCR2": m.PCR2}
		if m.PCR8 != "" {
			pcrs["PCR8"] = m.PCR8
		}
		out, err := json.Marshal(map[string]any{"Measurements": pcrs})
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseMeasurements(string(out))
		if err != nil || *again != *m {
			t.Fatalf("re-reading %s = %+v, %v; want %+v", out, again, err, *m)
		}
	})
}

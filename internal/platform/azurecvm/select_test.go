package azurecvm

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// h returns a 64-character hex value made of one repeated digit, so that
// tests read as "value a" versus "value b".
func h(digit byte) string { return strings.Repeat(string(digit), 64) }

var (
	vA, vB, vC, vD, vE = h('a'), h('b'), h('c'), h('d'), h('e')
)

// first returns the priority order that starts with the given indices and
// continues with the others in ascending order.
func first(front ...int) []int {
	p := slices.Clone(front)
	for i := range NumPCRs {
		if !slices.Contains(front, i) {
			p = append(p, i)
		}
	}
	return p
}

func img(id string, approved bool, pcrs map[int]string) Image {
	return Image{ID: id, PCRs: pcrs, Approved: approved}
}

func TestSelect(t *testing.T) {
	tests := []struct {
		name           string
		images         []Image
		vm             map[int]string
		priority       []int
		wantID         string
		wantResult     string
		wantMismatched []int
		wantSteps      []string // each must be one of the steps, exactly
		wantStepParts  []string // each must occur inside some step
	}{
		{
			name: "anchors on the first PCR in the priority order that a candidate matches",
			images: []Image{
				img("img-1", true, map[int]string{0: vA, 1: vB}),
				img("img-2", true, map[int]string{0: vC, 1: vB}),
			},
			vm:         map[int]string{0: vA, 1: vB},
			wantID:     "img-1",
			wantResult: ResultOK,
			wantSteps: []string{
				"PCR0: 1 of 2 candidates sets it to the VM's value; anchored on it",
				"Selected img-1 (sets PCRs 0, 1): the only candidate left",
				"Check passed: img-1 is approved: ok",
			},
		},
		{
			name: "drops before anchoring an image that sets a PCR to another value, then anchors on a later PCR",
			images: []Image{
				img("img-1", true, map[int]string{0: vC, 7: vA}),
				img("img-2", true, map[int]string{7: vA}),
			},
			vm:         map[int]string{0: vA, 7: vA},
			wantID:     "img-2",
			wantResult: ResultOK,
			wantSteps: []string{
				"PCR0: no candidate matches; before anchoring, dropped 1 image that sets PCR0 to another value",
				"PCRs 1, 2, 3, 4, 5, 6: no candidate sets them; nothing changes",
				"PCR7: the only candidate sets it to the VM's value; anchored on it",
			},
		},
		{
			name: "keeps the candidates after anchoring when none matches a PCR, so a kept image can win and mismatch",
			images: []Image{
				img("img-1", true, map[int]string{0: vA, 3: vC}),
				img("img-2", true, map[int]string{0: vA, 5: vB}),
			},
			vm:             map[int]string{0: vA, 3: vD, 5: vE},
			wantID:         "img-1",
			wantResult:     ResultPCRMismatch,
			wantMismatched: []int{3},
			wantSteps: []string{
				"PCR0: all 2 candidates set it to the VM's value; anchored on them",
				"PCRs 1, 2: no candidate sets them; nothing changes",
				"PCR3: no candidate matches; anchored, so the 2 candidates are kept",
				"PCR3: img-1 sets " + vC + "; the VM has " + vD,
			},
		},
		{
			name: "narrows the kept candidates when a later PCR matches",
			images: []Image{
				img("img-1", true, map[int]string{0: vA, 3: vC}),
				img("img-2", true, map[int]string{0: vA, 5: vE}),
			},
			vm:         map[int]string{0: vA, 3: vD, 5: vE},
			wantID:     "img-2",
			wantResult: ResultOK,
			wantSteps: []string{
				"PCR3: no candidate matches; anchored, so the 2 candidates are kept",
				"PCR5: 1 of 2 candidates sets it to the VM's value; kept it, dropped 1",
			},
		},
		{
			name: "prefers the shorter list when one image's PCRs are a prefix of another's",
			images: []Image{
				img("img-1", true, map[int]string{0: vA, 9: vB}),
				img("img-2", true, map[int]string{0: vA}),
			},
			vm:            map[int]string{0: vA, 9: vC},
			wantID:        "img-2",
			wantResult:    ResultOK,
			wantStepParts: []string{"Selected img-2 (sets PCR0), the highest priority of 2 candidates: its list (PCR0) is a prefix of the runner-up img-1's (PCRs 0, 9); the shorter list wins"},
		},
		{
			name: "prefers the image whose next PCR comes earlier in the priority order",
			images: []Image{
				img("img-1", true, map[int]string{0: vA, 2: vB}),
				img("img-2", true, map[int]string{0: vA, 1: vC, 2: vB}),
			},
			vm:             map[int]string{0: vA, 1: vD, 2: vB},
			wantID:         "img-2",
			wantResult:     ResultPCRMismatch,
			wantMismatched: []int{1},
			wantStepParts:  []string{"it sets PCR1 where the runner-up img-1 (PCRs 0, 2) sets PCR2, which comes later in the priority order"},
		},
		{
			name: "breaks a tie in the PCR indices by the values in the priority order, not by ID",
			images: []Image{
				img("img-1", true, map[int]string{0: vA, 5: vC}),
				img("img-2", true, map[int]string{0: vA, 5: vB}),
			},
			vm:             map[int]string{0: vA, 5: vD},
			wantID:         "img-2",
			wantResult:     ResultPCRMismatch,
			wantMismatched: []int{5},
			wantStepParts:  []string{"at PCR5 its value " + vB + " is lower in hex order than " + vC},
		},
		{
			name: "falls back to the image that sets no PCR when nothing anchors",
			images: []Image{
				img("img-1", true, map[int]string{0: vC}),
				img("img-0", true, map[int]string{}),
			},
			vm:         map[int]string{0: vA},
			wantID:     "img-0",
			wantResult: ResultOK,
			wantSteps: []string{
				"PCR0: no candidate matches; before anchoring, dropped 1 image that sets PCR0 to another value",
				"No candidate left: selected img-0, the image that sets no PCR",
				"Check: img-0 sets no PCR, so none can differ from the VM's",
			},
		},
		{
			name:       "falls back to the only image of an account whose one image sets no PCR",
			images:     []Image{img("img-0", true, nil)},
			vm:         map[int]string{0: vA},
			wantID:     "img-0",
			wantResult: ResultOK,
			wantSteps:  []string{"No image sets a PCR, so the PCRs change nothing"},
		},
		{
			name: "does not fall back once an image anchored, even when it then mismatches",
			images: []Image{
				img("img-1", true, map[int]string{0: vA, 1: vC}),
				img("img-0", true, nil),
			},
			vm:             map[int]string{0: vA, 1: vB},
			wantID:         "img-1",
			wantResult:     ResultPCRMismatch,
			wantMismatched: []int{1},
		},
		{
			name:       "selects the smallest ID when several images set no PCR",
			images:     []Image{img("img-z", true, nil), img("img-y", true, nil)},
			vm:         map[int]string{},
			wantID:     "img-y",
			wantResult: ResultOK,
			wantStepParts: []string{
				"2 images set no PCR (the per-account uniqueness of PCR combinations should prevent this); selected img-y, the one with the smallest ID",
			},
		},
		{
			name:       "reports no_matching_image when nothing matches and no image sets no PCR",
			images:     []Image{img("img-1", true, map[int]string{0: vC})},
			vm:         map[int]string{0: vA},
			wantResult: ResultNoMatchingImage,
			wantSteps:  []string{StepNoMatchingImage, "No candidate left: PCRs 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22 cannot bring one back"},
		},
		{
			name:       "reports no_matching_image for an account without images",
			vm:         map[int]string{0: vA},
			wantResult: ResultNoMatchingImage,
			wantSteps:  []string{StepNoMatchingImage},
		},
		{
			name: "reports image_not_approved for a matching image that is not approved, without trying another",
			images: []Image{
				img("img-1", false, map[int]string{0: vA}),
				img("img-2", true, map[int]string{1: vB}),
			},
			vm:         map[int]string{0: vA, 1: vB},
			wantID:     "img-1",
			wantResult: ResultImageNotApproved,
			wantSteps:  []string{"Check failed: img-1 is not approved: image_not_approved"},
		},
		{
			name:       "reports image_not_approved for a fallback image that is not approved",
			images:     []Image{img("img-0", false, nil)},
			vm:         map[int]string{0: vA},
			wantID:     "img-0",
			wantResult: ResultImageNotApproved,
		},
		{
			name:           "reports pcr_mismatch before image_not_approved",
			images:         []Image{img("img-1", false, map[int]string{0: vA, 1: vB})},
			vm:             map[int]string{0: vA, 1: vC},
			wantID:         "img-1",
			wantResult:     ResultPCRMismatch,
			wantMismatched: []int{1},
			wantSteps:      []string{"Check failed: img-1 sets PCR1 to values other than the VM's (PCRs are checked before approval): pcr_mismatch"},
		},
		{
			name: "selects by PCR0 in the default order",
			images: []Image{
				img("img-a", true, map[int]string{0: vA}),
				img("img-b", true, map[int]string{7: vB}),
			},
			vm:         map[int]string{0: vA, 7: vB},
			wantID:     "img-a",
			wantResult: ResultOK,
		},
		{
			name: "selects by PCR7 when the account's priority puts PCR7 first",
			images: []Image{
				img("img-a", true, map[int]string{0: vA}),
				img("img-b", true, map[int]string{7: vB}),
			},
			vm:         map[int]string{0: vA, 7: vB},
			priority:   first(7),
			wantID:     "img-b",
			wantResult: ResultOK,
			wantSteps: []string{
				"Priority order: PCRs 7, 0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22",
				"PCR7: 1 of 2 candidates sets it to the VM's value; anchored on it",
			},
		},
		{
			name: "keeps the candidates after anchoring at a PCR the VM did not report",
			images: []Image{
				img("img-1", true, map[int]string{0: vA, 4: vB}),
				img("img-2", true, map[int]string{0: vA}),
			},
			vm:         map[int]string{0: vA},
			wantID:     "img-2",
			wantResult: ResultOK,
			wantSteps:  []string{"PCR4: the VM did not report it; anchored, so the 2 candidates are kept"},
		},
		{
			name: "drops before anchoring the images that set a PCR the VM did not report",
			images: []Image{
				img("img-1", true, map[int]string{4: vB}),
				img("img-2", true, map[int]string{0: vA}),
			},
			vm:         map[int]string{0: vA},
			priority:   first(4),
			wantID:     "img-2",
			wantResult: ResultOK,
			wantSteps:  []string{"PCR4: the VM did not report it; before anchoring, dropped 1 image that sets PCR4"},
		},
		{
			name:           "reports pcr_mismatch for a selected image that sets a PCR the VM did not report",
			images:         []Image{img("img-1", true, map[int]string{0: vA, 4: vB})},
			vm:             map[int]string{0: vA},
			wantID:         "img-1",
			wantResult:     ResultPCRMismatch,
			wantMismatched: []int{4},
			wantSteps:      []string{"PCR4: img-1 sets " + vB + "; the VM did not report it"},
		},
		{
			name:       "never selects an image that sets a PCR index outside 0..22",
			images:     []Image{img("img-1", true, map[int]string{0: vA, 23: vB})},
			vm:         map[int]string{0: vA, 23: vB},
			wantResult: ResultNoMatchingImage,
			wantSteps:  []string{"1 image sets a PCR index outside 0..22 and is never selected"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := NewIndex(tc.images).Select(tc.vm, tc.priority)
			if got.ImageID != tc.wantID || got.Result != tc.wantResult || !slices.Equal(got.Mismatched, tc.wantMismatched) {
				t.Errorf("Select = (%q, %q, %v), want (%q, %q, %v)\nsteps:\n%s",
					got.ImageID, got.Result, got.Mismatched, tc.wantID, tc.wantResult, tc.wantMismatched, strings.Join(got.Steps, "\n"))
			}
			for _, want := range tc.wantSteps {
				if !slices.Contains(got.Steps, want) {
					t.Errorf("no step %q in:\n%s", want, strings.Join(got.Steps, "\n"))
				}
			}
			for _, want := range tc.wantStepParts {
				if !slices.ContainsFunc(got.Steps, func(s string) bool { return strings.Contains(s, want) }) {
					t.Errorf("no step contains %q in:\n%s", want, strings.Join(got.Steps, "\n"))
				}
			}
			if ref := selectReference(tc.images, tc.vm, tc.priority); !sameDecision(got, ref) {
				t.Errorf("Select = (%q, %q, %v), selectReference = (%q, %q, %v)",
					got.ImageID, got.Result, got.Mismatched, ref.ImageID, ref.Result, ref.Mismatched)
			}
		})
	}
}

func TestNormalizePriority(t *testing.T) {
	tests := []struct {
		name     string
		priority []int
		want     []int
	}{
		{"keeps a permutation as it is", first(7, 3), first(7, 3)},
		{"uses the default order for a nil priority", nil, DefaultPriority()},
		{"appends the missing indices in ascending order", []int{22, 5}, first(22, 5)},
		{"ignores repeated and out-of-range indices", []int{7, 7, -1, 23, 40, 0, 7}, first(7)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := normalizePriority(tc.priority)
			if !slices.Equal(got[:], tc.want) {
				t.Errorf("normalizePriority(%v) = %v, want %v", tc.priority, got, tc.want)
			}
		})
	}
}

func TestRankLess(t *testing.T) {
	// Position sets as lists: {0,2} < {0,3}, {0} < {0,5}, {1} > {0,9}.
	tests := []struct {
		name   string
		a, b   uint32
		aFirst bool
	}{
		{"an earlier position at the first difference wins", 0b0101, 0b1001, true},
		{"a prefix wins over a longer list", 0b1, 0b100001, true},
		{"a longer list loses to its prefix", 0b100001, 0b1, false},
		{"a list starting later loses even if shorter", 0b10, 0b1000000001, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rankLess(tc.a, tc.b); got != tc.aFirst {
				t.Errorf("rankLess(%b, %b) = %v, want %v", tc.a, tc.b, got, tc.aFirst)
			}
		})
	}
}

func TestIndexIsReadOnly(t *testing.T) {
	// Select shares the index's buckets with its candidate lists; running it
	// again, or from several goroutines at once (go test -race), must give
	// the same answer.
	images := []Image{
		img("img-1", true, map[int]string{0: vA, 1: vB}),
		img("img-2", true, map[int]string{0: vA, 1: vC}),
		img("img-3", true, map[int]string{0: vA}),
	}
	ix := NewIndex(images)
	vm := map[int]string{0: vA, 1: vC}
	a := ix.Select(vm, nil)
	b := ix.Select(vm, nil)
	if !reflect.DeepEqual(a, b) || a.ImageID != "img-2" {
		t.Fatalf("Select twice = %+v and %+v, want img-2 both times", a, b)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if c := ix.Select(vm, nil); !reflect.DeepEqual(a, c) {
				t.Errorf("concurrent Select = %+v, want %+v", c, a)
			}
		})
	}
	wg.Wait()
}

func sameDecision(a, b Decision) bool {
	return a.ImageID == b.ImageID && a.Result == b.Result && slices.Equal(a.Mismatched, b.Mismatched)
}

// randomAccount makes a small account over a few PCR indices and few values,
// so that matches, collisions and ties are common.
func randomAccount(r *rand.Rand) ([]Image, map[int]string, []int) {
	pool := r.Perm(NumPCRs)[:1+r.IntN(5)]
	nValues := 1 + r.IntN(3)
	value := func(n int) string { return h("0123456789"[n]) }

	images := make([]Image, r.IntN(12))
	for k := range images {
		pcrs := map[int]string{}
		if r.IntN(8) != 0 {
			for _, i := range pool {
				if r.IntN(2) == 0 {
					pcrs[i] = value(r.IntN(nValues))
				}
			}
		}
		images[k] = Image{ID: fmt.Sprintf("img-%02d", k), PCRs: pcrs, Approved: r.IntN(4) != 0}
	}

	vm := map[int]string{}
	for _, i := range pool {
		if r.IntN(5) != 0 {
			vm[i] = value(r.IntN(nValues + 1)) // nValues: a value no image has
		}
	}
	if r.IntN(4) == 0 {
		vm[r.IntN(NumPCRs)] = value(r.IntN(nValues))
	}

	var priority []int
	if r.IntN(4) != 0 {
		priority = r.Perm(NumPCRs)
	}
	return images, vm, priority
}

func TestSelectMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	results := map[string]int{}
	for n := range 2000 {
		images, vm, priority := randomAccount(r)
		got := NewIndex(images).Select(vm, priority)
		results[got.Result]++
		if want := selectReference(images, vm, priority); !sameDecision(got, want) {
			t.Fatalf("account %d: Select = (%q, %q, %v), selectReference = (%q, %q, %v)\nimages: %v\nvm: %v\npriority: %v\nsteps:\n%s",
				n, got.ImageID, got.Result, got.Mismatched, want.ImageID, want.Result, want.Mismatched,
				images, vm, priority, strings.Join(got.Steps, "\n"))
		}

		// Creation order never matters: the whole decision, steps included,
		// is the same for any order of the images.
		shuffled := slices.Clone(images)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if again := NewIndex(shuffled).Select(vm, priority); !reflect.DeepEqual(again, got) {
			t.Fatalf("account %d: shuffling the images changed the decision from %+v to %+v", n, got, again)
		}
	}
	// The generator must reach every result, or the comparison proves little.
	for _, res := range []string{ResultOK, ResultNoMatchingImage, ResultPCRMismatch, ResultImageNotApproved} {
		if results[res] < 50 {
			t.Errorf("only %d random accounts ended in %s: %v", results[res], res, results)
		}
	}
}

// fuzzReader hands out the fuzz input a byte at a time, then zeros.
type fuzzReader []byte

func (f *fuzzReader) next() int {
	if len(*f) == 0 {
		return 0
	}
	b := (*f)[0]
	*f = (*f)[1:]
	return int(b)
}

func FuzzSelect(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{3, 0, 7, 1, 2, 0x3, 0, 1, 1, 0x1, 1, 1, 0x2, 2, 0, 0x7, 0, 1, 2})
	f.Add([]byte{9, 23, 24, 0, 5, 0xff, 1, 2, 3, 4, 1, 0xf0, 0, 0, 0, 0, 0, 0xff, 3, 3, 3, 3, 9, 8, 7})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzReader(data)
		// Four PCR indices, 23 and 24 included to reach the out-of-range path.
		var pool [4]int
		for k := range pool {
			pool[k] = in.next() % (NumPCRs + 2)
		}
		value := func(n int) string { return h("0123"[n%4]) }

		images := make([]Image, in.next()%10)
		for k := range images {
			set := in.next()
			pcrs := map[int]string{}
			for b, i := range pool {
				if set&(1<<b) != 0 {
					pcrs[i] = value(in.next() % 3)
				}
			}
			images[k] = Image{ID: fmt.Sprintf("img-%d", k), PCRs: pcrs, Approved: set&0x80 == 0}
		}
		vm := map[int]string{}
		set := in.next()
		for b, i := range pool {
			if set&(1<<b) != 0 {
				vm[i] = value(in.next())
			}
		}
		priority := DefaultPriority()
		for k := len(priority) - 1; k > 0; k-- {
			j := in.next() % (k + 1)
			priority[k], priority[j] = priority[j], priority[k]
		}

		got := NewIndex(images).Select(vm, priority)
		if want := selectReference(images, vm, priority); !sameDecision(got, want) {
			t.Fatalf("Select = (%q, %q, %v), selectReference = (%q, %q, %v)\nimages: %v\nvm: %v\npriority: %v\nsteps:\n%s",
				got.ImageID, got.Result, got.Mismatched, want.ImageID, want.Result, want.Mismatched,
				images, vm, priority, strings.Join(got.Steps, "\n"))
		}
		if len(got.Steps) == 0 {
			t.Fatal("Select returned no steps")
		}
		if got.Result == ResultNoMatchingImage && got.Steps[len(got.Steps)-1] != StepNoMatchingImage {
			t.Fatalf("last step of no_matching_image = %q, want %q", got.Steps[len(got.Steps)-1], StepNoMatchingImage)
		}
	})
}

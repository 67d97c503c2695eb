// Package azurecvm holds the Azure confidential VM (vTPM) platform logic that
// needs no hardware: choosing, by the account's PCR priority order, the image
// that a VM's PCR values attest as, and explaining that choice step by step.
package azurecvm

import (
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// NumPCRs is the number of PCR indices an azure_cvm image may set: 0..22.
const NumPCRs = 23

// Results of a selection. They equal the API's attestation_failed reasons
// (and "ok"), so callers pass them through unchanged.
const (
	ResultOK               = "ok"
	ResultNoMatchingImage  = "no_matching_image"
	ResultPCRMismatch      = "pcr_mismatch"
	ResultImageNotApproved = "image_not_approved"
)

// StepNoMatchingImage is the last step of a no_matching_image decision; API.md
// fixes its wording.
const StepNoMatchingImage = "Build with matching PCRs not found"

// Image is an azure_cvm image as selection sees it.
type Image struct {
	ID string
	// PCRs maps a PCR index (0..22) to a lower-case hex SHA-256 value. It may
	// be empty. Values are compared as strings: callers normalise them.
	PCRs     map[int]string
	Approved bool
}

// Decision is the outcome of Select, with the reasons for it.
type Decision struct {
	ImageID string // "" when no image was selected
	Result  string // one of the Result constants
	// Steps explain the decision in lines meant for users (the explain
	// endpoint shows them).
	Steps []string
	// Mismatched lists, in ascending order, the PCR indices the selected
	// image sets to a value other than the VM's; set only for pcr_mismatch.
	Mismatched []int
}

// DefaultPriority returns the default PCR priority order, 0..22.
func DefaultPriority() []int {
	p := make([]int, NumPCRs)
	for i := range p {
		p[i] = i
	}
	return p
}

// maskCount is a set of PCR indices (bit i = PCR i) and how many images set
// exactly those indices.
type maskCount struct {
	mask uint32
	n    int
}

// Index holds the azure_cvm images of one account, indexed by (PCR index,
// value) so that Select touches only the images whose PCRs match the VM's. An
// Index is immutable: Select may be called from many goroutines at once.
//
// Images are numbered by ascending ID, so the index, and with it every
// Decision including its Steps, does not depend on the order of the slice
// given to NewIndex.
type Index struct {
	ids      []string
	approved []bool
	masks    []uint32 // masks[x]: the PCR indices image x sets

	// valueID[i][x] is the number of the value image x sets PCR i to, 0 when
	// it does not set PCR i; values[i][n] is value number n (values[i][0] is
	// unused) and numbers[i] its inverse.
	valueID [NumPCRs][]int32
	values  [NumPCRs][]string
	numbers [NumPCRs]map[string]int32

	// buckets[i][n] lists, ascending, the images that set PCR i to
	// values[i][n].
	buckets [NumPCRs][][]int32

	// masksWith[i] lists the distinct masks that contain PCR i, with their
	// image counts: counting the candidates that set PCR i before anchoring
	// costs one step per distinct combination of indices, not one per image.
	masksWith [NumPCRs][]maskCount

	withPCR  int     // images that set at least one PCR
	noPCR    []int32 // images that set no PCR, ascending (so by ID)
	excluded int     // images left out because they set an index outside 0..22
}

// NewIndex indexes the images of one account.
//
// An image that sets a PCR index outside 0..22 is left out of the index and
// so is never selected: the API rejects such images, and treating the bad
// index as absent would let the image match PCRs it was not approved for.
//
// NewIndex costs O(N log N + E) time and O(N + E) memory for N images that
// set E PCRs in all (E ≤ 23·N): building it costs about as much as one
// selection without an index, so build it once per account and reuse it until
// the account's azure_cvm images or their approval change.
func NewIndex(images []Image) *Index {
	sorted := make([]Image, 0, len(images))
	excluded := 0
	for _, im := range images {
		if validPCRs(im.PCRs) {
			sorted = append(sorted, im)
		} else {
			excluded++
		}
	}
	slices.SortStableFunc(sorted, func(a, b Image) int { return strings.Compare(a.ID, b.ID) })

	n := len(sorted)
	ix := &Index{
		ids:      make([]string, n),
		approved: make([]bool, n),
		masks:    make([]uint32, n),
		excluded: excluded,
	}
	for i := range NumPCRs {
		ix.valueID[i] = make([]int32, n)
		ix.values[i] = []string{""}
		ix.numbers[i] = map[string]int32{}
		ix.buckets[i] = [][]int32{nil}
	}
	counts := map[uint32]int{}
	for x, im := range sorted {
		ix.ids[x] = im.ID
		ix.approved[x] = im.Approved
		var mask uint32
		for i, v := range im.PCRs {
			num, ok := ix.numbers[i][v]
			if !ok {
				num = int32(len(ix.values[i]))
				ix.numbers[i][v] = num
				ix.values[i] = append(ix.values[i], v)
				ix.buckets[i] = append(ix.buckets[i], nil)
			}
			ix.valueID[i][x] = num
			// x grows, so every bucket stays ascending.
			ix.buckets[i][num] = append(ix.buckets[i][num], int32(x))
			mask |= 1 << i
		}
		ix.masks[x] = mask
		if mask == 0 {
			ix.noPCR = append(ix.noPCR, int32(x))
			continue
		}
		ix.withPCR++
		counts[mask]++
	}
	for mask, c := range counts {
		for i := range NumPCRs {
			if mask&(1<<i) != 0 {
				ix.masksWith[i] = append(ix.masksWith[i], maskCount{mask, c})
			}
		}
	}
	return ix
}

func validPCRs(pcrs map[int]string) bool {
	for i := range pcrs {
		if i < 0 || i >= NumPCRs {
			return false
		}
	}
	return true
}

// normalizePriority turns priority into a permutation of 0..22. The account
// API accepts only permutations; for anything else Select still decides
// deterministically: indices outside 0..22 and repeats are ignored (a repeated
// index cannot change the candidates a second time), and the indices missing
// are appended in ascending order, so a nil priority is the default order.
func normalizePriority(priority []int) [NumPCRs]int {
	var order [NumPCRs]int
	var seen uint32
	n := 0
	for _, i := range priority {
		if i < 0 || i >= NumPCRs || seen&(1<<i) != 0 {
			continue
		}
		seen |= 1 << i
		order[n] = i
		n++
	}
	for i := range NumPCRs {
		if seen&(1<<i) == 0 {
			order[n] = i
			n++
		}
	}
	return order
}

// Select decides which image a VM with the given PCR values attests as,
// following API.md's "Azure CVM image selection (PCR priority)". vm maps a PCR
// index to its lower-case hex value; PCRs the VM did not report are absent.
// priority is the account's order, a permutation of 0..22 (see
// normalizePriority for other input).
//
// The algorithm (API.md): candidates are the images that set at least one
// PCR, not anchored. For each PCR index i in priority order, M = the
// candidates that set PCR i to the VM's value. If M is not empty, the
// candidates become M and selection is anchored; if M is empty and selection
// is not anchored, the candidates that set PCR i (to another value) are
// removed; if M is empty and selection is anchored, the candidates are kept.
// Then the candidate of highest priority is selected (see better), or, with no
// candidate left, the image that sets no PCR. The selection passes if every
// PCR it sets equals the VM's (checked first: pcr_mismatch) and it is approved
// (image_not_approved).
//
// Complexity, for N images: before anchoring the candidates are implicit —
// every image that sets a PCR minus those that set a dropped index — so a PCR
// step costs O(|bucket(i, vm[i])|) to find M plus O(distinct index sets that
// contain i) to count the images dropped; once anchored, the candidates are an
// explicit ascending list C and a step costs O(min(|C|, |bucket|·log|C|)).
// Choosing among the final candidates costs O(23·|C|). So Select looks only
// at the images that share a PCR value with the VM, never at every image for
// every PCR: when the first PCR that matches is shared by g images, the whole
// selection is O(23·g) at worst and about O(g) in practice (later steps see
// fewer candidates, and one candidate ends the loop), against Θ(23·N) for a
// literal reading of the algorithm. Writing the Steps adds O(23) lines.
func (ix *Index) Select(vm map[int]string, priority []int) Decision {
	order := normalizePriority(priority)
	s := selection{ix: ix, vm: vm, order: order}
	s.stepf("Priority order: %s", pcrs(order[:]))
	s.stepf("Start: %s (the images that set at least one PCR); %s",
		count(ix.withPCR, "candidate", "candidates"), ix.fallbackNote())
	if ix.excluded > 0 {
		s.stepf("%s a PCR index outside 0..22 and %s never selected",
			count(ix.excluded, "image sets", "images set"), plural(ix.excluded, "is", "are"))
	}

	cand := s.narrow()

	sel := int32(-1)
	switch {
	case len(cand) > 0:
		sel = s.best(cand)
	case len(ix.noPCR) == 1:
		sel = ix.noPCR[0]
		s.stepf("No candidate left: selected %s, the image that sets no PCR", ix.ids[sel])
	case len(ix.noPCR) > 1:
		// The per-account uniqueness of PCR combinations makes the empty
		// combination unique, so this happens only if that rule was bypassed;
		// the smallest ID keeps the choice deterministic all the same.
		sel = ix.noPCR[0]
		s.stepf("No candidate left: %d images set no PCR (the per-account uniqueness of PCR combinations should prevent this); selected %s, the one with the smallest ID",
			len(ix.noPCR), ix.ids[sel])
	default:
		s.steps = append(s.steps, StepNoMatchingImage)
		return Decision{Result: ResultNoMatchingImage, Steps: s.steps}
	}
	return s.check(sel)
}

func (ix *Index) fallbackNote() string {
	switch len(ix.noPCR) {
	case 0:
		return "there is no fallback (no image without PCRs)"
	case 1:
		return fmt.Sprintf("%s sets no PCR and is the fallback", ix.ids[ix.noPCR[0]])
	default:
		return fmt.Sprintf("%d images set no PCR; the one with the smallest ID, %s, is the fallback", len(ix.noPCR), ix.ids[ix.noPCR[0]])
	}
}

// selection is the state of one Select call.
type selection struct {
	ix    *Index
	vm    map[int]string
	order [NumPCRs]int
	steps []string
	// idle holds the latest PCR indices that no candidate sets, which
	// change nothing; they are reported in one line.
	idle []int
}

func (s *selection) stepf(format string, args ...any) {
	s.flushIdle()
	s.steps = append(s.steps, fmt.Sprintf(format, args...))
}

func (s *selection) flushIdle() {
	switch len(s.idle) {
	case 0:
		return
	case 1:
		s.steps = append(s.steps, fmt.Sprintf("PCR%d: no candidate sets it; nothing changes", s.idle[0]))
	default:
		s.steps = append(s.steps, fmt.Sprintf("%s: no candidate sets them; nothing changes", pcrs(s.idle)))
	}
	s.idle = s.idle[:0]
}

// narrow runs step 2 of the algorithm and returns the candidates left,
// ascending.
func (s *selection) narrow() []int32 {
	ix := s.ix
	var (
		anchored bool
		// Before anchoring, the candidates are the images that set some PCR
		// but none of the indices in dropped; remaining counts them.
		dropped   uint32
		remaining = ix.withPCR
		// Once anchored, the candidates are cand, and union holds the indices
		// that at least one of them sets.
		cand  []int32
		union uint32
	)
	for r, i := range s.order {
		// Two shortcuts, both exact: an empty candidate set stays empty (M is
		// a subset of it and removing leaves it empty), and a single anchored
		// candidate c stays (M is {c} or empty, and an empty M keeps it).
		if !anchored && remaining == 0 {
			if r == 0 {
				s.stepf("No image sets a PCR, so the PCRs change nothing")
			} else {
				s.stepf("No candidate left: %s cannot bring one back", pcrs(s.order[r:]))
			}
			return nil
		}
		if anchored && len(cand) == 1 {
			s.stepf("1 candidate left: %s cannot change that (it stays whether it matches them or not)", pcrs(s.order[r:]))
			return cand
		}

		v, reported := s.vm[i]
		var num int32
		var bucket []int32
		if reported {
			num = ix.numbers[i][v]
			bucket = ix.buckets[i][num] // num 0 (an unknown value) is an empty bucket
		}

		if !anchored {
			m := bucket
			if dropped != 0 {
				m = nil
				for _, x := range bucket {
					if ix.masks[x]&dropped == 0 {
						m = append(m, x)
					}
				}
			}
			if len(m) > 0 {
				// m may alias a bucket: it is only read from here on.
				cand, anchored = m, true
				union = ix.unionOf(cand)
				s.stepf("PCR%d: %s %s it to the VM's value; anchored on %s",
					i, ofCandidates(len(m), remaining), plural(len(m), "sets", "set"), plural(len(m), "it", "them"))
				continue
			}
			n := 0
			for _, mc := range ix.masksWith[i] {
				if mc.mask&dropped == 0 {
					n += mc.n
				}
			}
			dropped |= 1 << i
			remaining -= n
			switch {
			case n == 0:
				s.idle = append(s.idle, i)
			case reported:
				s.stepf("PCR%d: no candidate matches; before anchoring, dropped %s that %s PCR%d to another value",
					i, count(n, "image", "images"), plural(n, "sets", "set"), i)
			default:
				s.stepf("PCR%d: the VM did not report it; before anchoring, dropped %s that %s PCR%d",
					i, count(n, "image", "images"), plural(n, "sets", "set"), i)
			}
			continue
		}

		m := ix.keep(cand, bucket, i, num)
		switch {
		case len(m) == len(cand):
			s.stepf("PCR%d: all %d candidates set it to the VM's value", i, len(cand))
		case len(m) > 0:
			s.stepf("PCR%d: %s %s it to the VM's value; kept %s, dropped %d",
				i, ofCandidates(len(m), len(cand)), plural(len(m), "sets", "set"), plural(len(m), "it", "them"), len(cand)-len(m))
			cand = m
			union = ix.unionOf(cand)
		case union&(1<<i) == 0:
			s.idle = append(s.idle, i)
		case reported:
			s.stepf("PCR%d: no candidate matches; anchored, so the %d candidates are kept", i, len(cand))
		default:
			s.stepf("PCR%d: the VM did not report it; anchored, so the %d candidates are kept", i, len(cand))
		}
	}
	s.flushIdle()
	// Had selection never anchored, every candidate would have been removed
	// (each sets some PCR, and at that PCR M was empty), which is what the nil
	// cand says.
	return cand
}

// keep returns the candidates (ascending) that set PCR i to value number num,
// whose images are bucket (ascending). It walks whichever side is cheaper:
// the candidates, testing each one's value, or the bucket, looking each image
// up among the candidates by binary search. The result may share memory with
// cand or bucket: candidate lists are never written to once made.
func (ix *Index) keep(cand, bucket []int32, i int, num int32) []int32 {
	if len(bucket) == 0 {
		return nil
	}
	var out []int32
	if len(bucket)*bits.Len(uint(len(cand))) < len(cand) {
		for _, x := range bucket {
			if _, ok := slices.BinarySearch(cand, x); ok {
				out = append(out, x)
			}
		}
		return out
	}
	// Often every candidate matches (PCRs whose value all builds share):
	// then cand itself is returned, and a copy is made only from the first
	// candidate that does not match.
	values := ix.valueID[i]
	for k, x := range cand {
		switch {
		case values[x] != num:
			if out == nil {
				out = make([]int32, k, len(cand)-1)
				copy(out, cand[:k])
			}
		case out != nil:
			out = append(out, x)
		}
	}
	if out == nil {
		return cand
	}
	return out
}

func (ix *Index) unionOf(images []int32) uint32 {
	var u uint32
	for _, x := range images {
		u |= ix.masks[x]
	}
	return u
}

// rank maps a set of PCR indices to the set of their positions in the
// priority order (bit r = order[r]), so that comparing index lists "in the
// order P" becomes comparing bits.
func (s *selection) rank(mask uint32) uint32 {
	var r uint32
	for pos, i := range s.order {
		if mask&(1<<i) != 0 {
			r |= 1 << pos
		}
	}
	return r
}

// better reports whether candidate a has a higher priority than candidate b.
//
// Each image's PCR indices are listed in the priority order and the lists are
// compared lexicographically: at the first difference, the list whose index
// comes earlier wins. If one list is a prefix of the other, the shorter list
// wins (standard lexicographic order). That is also the better match: when
// both are final candidates, the longer list's extra PCRs cannot match the
// VM, because at such a PCR a match would have made M non-empty and dropped
// the shorter image, which does not set it. So the longer image would fail
// the final check.
//
// Images that set the same indices (with different values) are ordered by
// their values in the priority order, lower hex first; creation order never
// matters. Only images with identical PCRs, which per-account uniqueness
// forbids, fall back to the smaller ID.
func (s *selection) better(a, b int32, ra, rb uint32) bool {
	if ra != rb {
		return rankLess(ra, rb)
	}
	if c := s.compareValues(a, b); c != 0 {
		return c < 0
	}
	return s.ix.ids[a] < s.ix.ids[b]
}

// rankLess compares two different position sets as lexicographically ordered
// lists: it reports whether ra comes first.
func rankLess(ra, rb uint32) bool {
	r := uint(bits.TrailingZeros32(ra ^ rb)) // first position where they differ
	// The list that has position r wins unless the other list has no
	// position after r, i.e. the other list is a prefix of it.
	if ra&(1<<r) != 0 {
		return rb>>r != 0
	}
	return ra>>r == 0
}

// compareValues compares two images that set the same PCR indices by their
// values in the priority order.
func (s *selection) compareValues(a, b int32) int {
	for _, i := range s.order {
		va, vb := s.ix.valueID[i][a], s.ix.valueID[i][b]
		if va != vb {
			return strings.Compare(s.ix.values[i][va], s.ix.values[i][vb])
		}
	}
	return 0
}

// best runs step 3 on a non-empty candidate list and explains why the winner
// beat the runner-up.
func (s *selection) best(cand []int32) int32 {
	ix := s.ix
	if len(cand) == 1 {
		s.stepf("Selected %s (sets %s): the only candidate left", ix.ids[cand[0]], s.pcrList(cand[0]))
		return cand[0]
	}
	win, second := int32(-1), int32(-1)
	var rw, r2 uint32
	for _, x := range cand {
		rx := s.rank(ix.masks[x])
		switch {
		case win < 0 || s.better(x, win, rx, rw):
			second, r2 = win, rw
			win, rw = x, rx
		case second < 0 || s.better(x, second, rx, r2):
			second, r2 = x, rx
		}
	}
	s.stepf("Selected %s (sets %s), the highest priority of %d candidates: %s",
		ix.ids[win], s.pcrList(win), len(cand), s.why(win, second, rw, r2))
	return win
}

// why says why win beat second, which it is known to beat.
func (s *selection) why(win, second int32, rw, r2 uint32) string {
	ix := s.ix
	other := ix.ids[second]
	if rw != r2 {
		r := uint(bits.TrailingZeros32(rw ^ r2))
		if r2&(1<<r) != 0 {
			return fmt.Sprintf("its list (%s) is a prefix of the runner-up %s's (%s); the shorter list wins, because %s's extra PCRs cannot match the VM (a match would have dropped %s when anchoring)",
				s.pcrList(win), other, s.pcrList(second), other, ix.ids[win])
		}
		later := bits.TrailingZeros32(r2 >> r << r)
		return fmt.Sprintf("at the first difference in their lists, it sets PCR%d where the runner-up %s (%s) sets PCR%d, which comes later in the priority order",
			s.order[r], other, s.pcrList(second), s.order[later])
	}
	for _, i := range s.order {
		va, vb := ix.valueID[i][win], ix.valueID[i][second]
		if va != vb {
			return fmt.Sprintf("the runner-up %s sets the same PCRs, so their values decide in the priority order: at PCR%d its value %s is lower in hex order than %s",
				other, i, ix.values[i][va], ix.values[i][vb])
		}
	}
	return fmt.Sprintf("the runner-up %s sets the same PCRs to the same values (the per-account uniqueness of PCR combinations should prevent this); the smaller ID wins", other)
}

// check runs step 4: PCRs first, then approval, so an image that would fail on
// both reports pcr_mismatch, the reason an operator can act on without
// approving anything.
func (s *selection) check(sel int32) Decision {
	ix := s.ix
	id := ix.ids[sel]
	mask := ix.masks[sel]
	var mismatched []int
	var details []string
	for i := range NumPCRs {
		if mask&(1<<i) == 0 {
			continue
		}
		want := ix.values[i][ix.valueID[i][sel]]
		got, ok := s.vm[i]
		switch {
		case !ok:
			details = append(details, fmt.Sprintf("PCR%d: %s sets %s; the VM did not report it", i, id, want))
		case got != want:
			details = append(details, fmt.Sprintf("PCR%d: %s sets %s; the VM has %s", i, id, want, got))
		default:
			continue
		}
		mismatched = append(mismatched, i)
	}
	if len(mismatched) > 0 {
		s.stepf("Check failed: %s sets %s to values other than the VM's (PCRs are checked before approval): %s",
			id, pcrs(mismatched), ResultPCRMismatch)
		s.steps = append(s.steps, details...)
		return Decision{ImageID: id, Result: ResultPCRMismatch, Steps: s.steps, Mismatched: mismatched}
	}
	if mask == 0 {
		s.stepf("Check: %s sets no PCR, so none can differ from the VM's", id)
	} else {
		s.stepf("Check: every PCR %s sets equals the VM's value", id)
	}
	if !ix.approved[sel] {
		s.stepf("Check failed: %s is not approved: %s", id, ResultImageNotApproved)
		return Decision{ImageID: id, Result: ResultImageNotApproved, Steps: s.steps}
	}
	s.stepf("Check passed: %s is approved: %s", id, ResultOK)
	return Decision{ImageID: id, Result: ResultOK, Steps: s.steps}
}

// pcrList lists the PCR indices image x sets, in the priority order.
func (s *selection) pcrList(x int32) string {
	var l []int
	for _, i := range s.order {
		if s.ix.masks[x]&(1<<i) != 0 {
			l = append(l, i)
		}
	}
	return pcrs(l)
}

func joinInts(l []int) string {
	var b strings.Builder
	for k, v := range l {
		if k > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(v))
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func count(n int, one, many string) string {
	return strconv.Itoa(n) + " " + plural(n, one, many)
}

// ofCandidates words n of total candidates: "2 of 5 candidates", "all 3
// candidates", "the only candidate".
func ofCandidates(n, total int) string {
	switch {
	case n == total && n == 1:
		return "the only candidate"
	case n == total:
		return fmt.Sprintf("all %d candidates", n)
	default:
		return fmt.Sprintf("%d of %d candidates", n, total)
	}
}

// pcrs words a list of PCR indices: "PCR3", "PCRs 0, 7".
func pcrs(l []int) string {
	if len(l) == 1 {
		return "PCR" + strconv.Itoa(l[0])
	}
	return "PCRs " + joinInts(l)
}

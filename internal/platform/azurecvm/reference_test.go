package azurecvm

import (
	"slices"
	"strings"
)

// selectReference is API.md's "Azure CVM image selection (PCR priority)"
// written literally and slowly, without an index: every step looks at every
// candidate. The fast Select is checked against it. It decides (ImageID,
// Result, Mismatched) and leaves Steps empty.
//
// Where API.md is silent it makes the same documented choices as Select:
// priority normalised by normalizePriority, images with an index outside
// 0..22 left out, ties in index lists broken by values in the order P, then
// by ID; several no-PCR images → the smallest ID.
func selectReference(images []Image, vm map[int]string, priority []int) Decision {
	order := normalizePriority(priority)

	var valid []Image
	for _, im := range images {
		if validPCRs(im.PCRs) {
			valid = append(valid, im)
		}
	}

	// 1. Candidates = the images that set at least one PCR; anchored = false.
	var candidates []Image
	for _, im := range valid {
		if len(im.PCRs) > 0 {
			candidates = append(candidates, im)
		}
	}
	anchored := false

	// 2. For each PCR index i, in the order P.
	for _, i := range order {
		vmValue, reported := vm[i]
		var m []Image
		for _, c := range candidates {
			if v, sets := c.PCRs[i]; sets && reported && v == vmValue {
				m = append(m, c)
			}
		}
		switch {
		case len(m) > 0:
			candidates = m
			anchored = true
		case !anchored:
			var left []Image
			for _, c := range candidates {
				if _, sets := c.PCRs[i]; !sets {
					left = append(left, c)
				}
			}
			candidates = left
		default:
			// M empty and anchored: keep the candidates as they are.
		}
	}

	// 3. Select.
	var selected *Image
	if len(candidates) > 0 {
		slices.SortFunc(candidates, func(a, b Image) int { return referenceCompare(a, b, order) })
		selected = &candidates[0]
	} else {
		var none []Image
		for _, im := range valid {
			if len(im.PCRs) == 0 {
				none = append(none, im)
			}
		}
		if len(none) == 0 {
			return Decision{Result: ResultNoMatchingImage}
		}
		slices.SortFunc(none, func(a, b Image) int { return strings.Compare(a.ID, b.ID) })
		selected = &none[0]
	}

	// 4. Check: PCRs first, then approval.
	var mismatched []int
	for i := range NumPCRs {
		if v, sets := selected.PCRs[i]; sets {
			if vmValue, reported := vm[i]; !reported || vmValue != v {
				mismatched = append(mismatched, i)
			}
		}
	}
	if len(mismatched) > 0 {
		return Decision{ImageID: selected.ID, Result: ResultPCRMismatch, Mismatched: mismatched}
	}
	if !selected.Approved {
		return Decision{ImageID: selected.ID, Result: ResultImageNotApproved}
	}
	return Decision{ImageID: selected.ID, Result: ResultOK}
}

// referenceCompare orders candidates by priority, highest first: the lists
// of the PCR indices they set, as positions in the order P, compared
// lexicographically (slices.Compare: a prefix comes first), then the values
// in the order P, then the ID.
func referenceCompare(a, b Image, order [NumPCRs]int) int {
	var pa, pb []int
	var va, vb []string
	for pos, i := range order {
		if v, ok := a.PCRs[i]; ok {
			pa = append(pa, pos)
			va = append(va, v)
		}
		if v, ok := b.PCRs[i]; ok {
			pb = append(pb, pos)
			vb = append(vb, v)
		}
	}
	if c := slices.Compare(pa, pb); c != 0 {
		return c
	}
	if c := slices.Compare(va, vb); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

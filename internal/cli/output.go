package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// Output formats of -o/--output.
const (
	outputTable = "table"
	outputJSON  = "json"
)

func checkOutput(format string) error {
	if format != outputTable && format != outputJSON {
		return fmt.Errorf("unknown output format %q: use %s or %s", format, outputTable, outputJSON)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeList prints items as JSON, or as a table with header and one row per item.
func writeList[T any](w io.Writer, format string, items []T, header []string, row func(T) []string) error {
	if format == outputJSON {
		if items == nil {
			items = []T{}
		}
		return writeJSON(w, items)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, it := range items {
		cells := row(it)
		for i, c := range cells {
			cells[i] = cell(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// field is one line of writeObject's table form.
type field struct{ name, value string }

// writeObject prints v as JSON, or its fields as aligned "Name: value" lines.
func writeObject(w io.Writer, format string, v any, fields []field) error {
	if format == outputJSON {
		return writeJSON(w, v)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range fields {
		fmt.Fprintf(tw, "%s:\t%s\n", f.name, cell(f.value))
	}
	return tw.Flush()
}

// cell makes a value safe for one table cell: server data must not move
// the cursor, change the terminal, or break the columns.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return fmtTime(*t)
}

func fmtList(s []string) string { return strings.Join(s, ", ") }

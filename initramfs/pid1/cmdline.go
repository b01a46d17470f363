package pid1

import "strings"

// parseCmdline splits a kernel command line into its key=value
// parameters; a bare word maps to "". Quoted values ("a b") are kept
// whole, as the kernel does.
func parseCmdline(line string) map[string]string {
	params := map[string]string{}
	var word strings.Builder
	inQuote := false
	flush := func() {
		if word.Len() == 0 {
			return
		}
		k, v, _ := strings.Cut(word.String(), "=")
		word.Reset()
		if k == "" {
			return // "=value" names no parameter
		}
		params[k] = strings.Trim(v, `"`)
	}
	for _, r := range line {
		switch {
		case r == '"':
			inQuote = !inQuote
			word.WriteRune(r)
		case (r == ' ' || r == '\t' || r == '\n') && !inQuote:
			flush()
		default:
			word.WriteRune(r)
		}
	}
	flush()
	return params
}

package experiments

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Overrides are the command line's changes to a spec's plan, applied after
// the backend section and the quick profile: -reps, -warmup and -set.
type Overrides struct {
	// Reps is the number of timed repetitions (0: the spec's). The LLM
	// experiments add their warm-up repetition to it.
	Reps int
	// Warmup is the number of warm-up calls (0: the spec's), for the
	// experiments that have them apart from the repetitions.
	Warmup int
	// Set holds case overrides by key (see Driver.SetKeys), e.g.
	// {"prompt": [24, 512]}.
	Set map[string][]int
}

// IsZero reports whether o changes nothing.
func (o Overrides) IsZero() bool { return o.Reps == 0 && o.Warmup == 0 && len(o.Set) == 0 }

// Strings lists o as the flags that make it, for provenance.
func (o Overrides) Strings() []string {
	var out []string
	if o.Reps > 0 {
		out = append(out, "-reps "+strconv.Itoa(o.Reps))
	}
	if o.Warmup > 0 {
		out = append(out, "-warmup "+strconv.Itoa(o.Warmup))
	}
	for _, k := range slices.Sorted(maps.Keys(o.Set)) {
		vs := make([]string, len(o.Set[k]))
		for i, v := range o.Set[k] {
			vs[i] = strconv.Itoa(v)
		}
		out = append(out, "-set "+k+"="+strings.Join(vs, ","))
	}
	return out
}

// ParseSet parses one -set argument, "key=v1,v2,…" with integer values,
// into o.Set.
func (o *Overrides) ParseSet(arg string) error {
	key, list, ok := strings.Cut(arg, "=")
	if !ok || key == "" || list == "" {
		return fmt.Errorf("-set %q: want key=value[,value…], e.g. -set prompt=24,512", arg)
	}
	var vs []int
	for _, s := range strings.Split(list, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || v < 1 {
			return fmt.Errorf("-set %s: %q is not a whole number ≥ 1", key, s)
		}
		vs = append(vs, v)
	}
	if o.Set == nil {
		o.Set = map[string][]int{}
	}
	o.Set[key] = vs
	return nil
}

// Check refuses keys d does not take, and -warmup where d has no warm-up
// calls apart from its repetitions, naming what d takes.
func (o Overrides) Check(d Driver) error {
	for _, k := range slices.Sorted(maps.Keys(o.Set)) {
		if !slices.Contains(d.SetKeys, k) {
			return fmt.Errorf("-set %s: %s has no such key (it takes %s)", k, d.Name, strings.Join(d.SetKeys, ", "))
		}
	}
	if o.Warmup > 0 && !d.Warmup {
		return fmt.Errorf("-warmup: %s's warm-up is its first repetition, not a count to set (use -reps)", d.Name)
	}
	return nil
}

// Ints returns the values of key, and whether it was set.
func (o Overrides) Ints(key string) ([]int, bool) {
	v, ok := o.Set[key]
	return v, ok
}

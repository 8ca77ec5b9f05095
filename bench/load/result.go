package load

import (
	"slices"
	"time"
)

// Result is what one load run measured. Latencies are of successful
// requests only; durations marshal to JSON as nanoseconds.
type Result struct {
	Requests   int           `json:"requests"`
	Errors     int           `json:"errors"`
	FirstError string        `json:"first_error,omitempty"`
	RPS        float64       `json:"rps"`
	P50        time.Duration `json:"p50_ns"`
	P90        time.Duration `json:"p90_ns"`
	P99        time.Duration `json:"p99_ns"`
	Max        time.Duration `json:"max_ns"`
	Duration   time.Duration `json:"duration_ns"`
}

func summarize(workers []worker, d time.Duration) *Result {
	var all []time.Duration
	r := &Result{Duration: d}
	for _, w := range workers {
		all = append(all, w.latencies...)
		r.Errors += w.errors
		if r.FirstError == "" {
			r.FirstError = w.firstErr
		}
	}
	slices.Sort(all)
	r.Requests = len(all)
	r.RPS = float64(len(all)) / d.Seconds()
	r.P50 = Percentile(all, 50)
	r.P90 = Percentile(all, 90)
	r.P99 = Percentile(all, 99)
	if len(all) > 0 {
		r.Max = all[len(all)-1]
	}
	return r
}

// Percentile returns the p-th percentile (nearest rank) of sorted values,
// or 0 for none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.5) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

package canaryjudge

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/threader/guard/internal/canary"
	"github.com/threader/guard/internal/promapi"
)

// rangeQuerier is what fetch needs of a promapi.Client.
type rangeQuerier interface {
	QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (*promapi.Result, error)
}

// fetch runs every metric's two range queries (a few at a time) and returns
// the samples on the grid, in the order of specs. A query that fails makes
// its metric's Samples.Err, naming the query option.
func fetch(ctx context.Context, q rangeQuerier, iv interval, specs []metricSpec) []canary.Samples {
	out := make([]canary.Samples, len(specs))
	type job struct {
		metric int
		side   string // canary_query or baseline_query
		query  string
		dst    *[]float64
		err    *error
	}
	var jobs []job
	errs := make([][2]error, len(specs))
	for i, s := range specs {
		jobs = append(jobs, job{i, "canary_query", s.CanaryQuery, &out[i].Canary, &errs[i][0]},
			job{i, "baseline_query", s.BaselineQuery, &out[i].Baseline, &errs[i][1]})
	}
	sem := make(chan struct{}, queryConcurrency)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			values, err := iv.series(ctx, q, j.query)
			if err != nil {
				*j.err = fmt.Errorf("metrics[%d].%s: %v", j.metric, j.side, err)
				return
			}
			*j.dst = values
		}()
	}
	wg.Wait()
	for i, e := range errs {
		switch {
		case e[0] != nil && e[1] != nil:
			out[i].Err = fmt.Errorf("%v; %v", e[0], e[1])
		case e[0] != nil:
			out[i].Err = e[0]
		case e[1] != nil:
			out[i].Err = e[1]
		}
	}
	return out
}

// series runs one range query and lays its series on the grid.
func (iv interval) series(ctx context.Context, q rangeQuerier, query string) ([]float64, error) {
	res, err := q.QueryRange(ctx, query, iv.start, iv.end, iv.step)
	if err != nil {
		return nil, err
	}
	return iv.grid(res)
}

// grid checks an answer and returns its one series' values on the grid:
// NaN where the answer has no point. No series at all is no data on that
// side (an empty slice), whatever nan_strategy: under replace an all-NaN
// grid would become zeros, and a dead canary or a mistyped selector would
// then pass an errors metric (PromQL's "or vector(0)" says "absent means
// 0" where that is meant). A NaN point is kept: the judge treats it as missing, by
// nan_strategy. Fail closed: warnings (partial data), two or more series,
// an infinite value, two points on one step and anything but a matrix are
// errors.
func (iv interval) grid(res *promapi.Result) ([]float64, error) {
	if len(res.Warnings) > 0 {
		return nil, fmt.Errorf("Prometheus warned that the answer may be incomplete: %s", strings.Join(res.Warnings, "; "))
	}
	if res.Type != promapi.Matrix {
		return nil, fmt.Errorf("the answer is a %s, not a range of samples", res.Type)
	}
	if n := len(res.Series); n > 1 {
		labels := make([]string, 0, 3)
		for _, s := range res.Series[:min(n, 3)] {
			labels = append(labels, promapi.LabelString(s.Labels))
		}
		more := ""
		if n > 3 {
			more = ", ..."
		}
		return nil, fmt.Errorf("returned %d series (%s%s); it must return one: aggregate it, for example with sum(...) or avg(...)",
			n, strings.Join(labels, ", "), more)
	}
	if len(res.Series) == 0 {
		return nil, nil
	}
	values := make([]float64, iv.points())
	for i := range values {
		values[i] = math.NaN()
	}
	filled := make([]bool, len(values))
	for _, s := range res.Series[0].Samples {
		if math.IsInf(s.Value, 0) {
			return nil, fmt.Errorf("returned %v at %s; values must be finite", s.Value, s.Time.UTC().Format(time.RFC3339))
		}
		offset := s.Time.Sub(iv.start)
		i := int((offset + iv.step/2) / iv.step) // the nearest step
		if offset < -iv.step/2 || i >= len(values) {
			continue // outside the interval
		}
		// Two points on one step (a repeated timestamp, or an answer at a
		// finer step than asked): keeping either would judge data that is
		// not the grid asked for.
		if filled[i] {
			return nil, fmt.Errorf("returned two points for the step at %s (the second at %s): the answer is not on the step of %s asked for",
				iv.start.Add(time.Duration(i)*iv.step).UTC().Format(time.RFC3339), s.Time.UTC().Format(time.RFC3339Nano), model.Duration(iv.step))
		}
		filled[i] = true
		values[i] = s.Value
	}
	return values, nil
}

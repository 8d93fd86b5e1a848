package promapi

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// The JSON of query results, shaped as Prometheus shapes them: a sample is
// [<unix seconds>, "<value>"], the value a string so that NaN and ±Inf survive
// JSON.

func formatFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// appendTime writes a millisecond timestamp as a JSON number of seconds with
// at most three decimals and no trailing zeros, exactly (no float rounding).
func appendTime(b []byte, ms int64) []byte {
	if ms < 0 {
		b = append(b, '-')
		if ms == math.MinInt64 {
			return append(b, "9223372036854775.808"...)
		}
		ms = -ms
	}
	b = strconv.AppendInt(b, ms/1000, 10)
	if frac := ms % 1000; frac != 0 {
		digits := []byte{'.', byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
		for digits[len(digits)-1] == '0' {
			digits = digits[:len(digits)-1]
		}
		b = append(b, digits...)
	}
	return b
}

// point is a float sample: [t, "v"].
type point struct {
	T int64
	V float64
}

func (p point) MarshalJSON() ([]byte, error) {
	b := append(appendTime([]byte{'['}, p.T), ',')
	b = strconv.AppendQuote(b, formatFloat(p.V))
	return append(b, ']'), nil
}

// stringPoint is a string result: [t, "s"].
type stringPoint struct {
	T int64
	S string
}

func (p stringPoint) MarshalJSON() ([]byte, error) {
	b := append(appendTime([]byte{'['}, p.T), ',')
	b = strconv.AppendQuote(b, p.S)
	return append(b, ']'), nil
}

// histogramPoint is a native histogram sample: [t, {"count","sum","buckets"}].
type histogramPoint struct {
	T int64
	H *histogram.FloatHistogram
}

type histogramJSON struct {
	Count   string  `json:"count"`
	Sum     string  `json:"sum"`
	Buckets [][]any `json:"buckets,omitempty"`
}

func (p histogramPoint) MarshalJSON() ([]byte, error) {
	h := histogramJSON{Count: formatFloat(p.H.Count), Sum: formatFloat(p.H.Sum)}
	for it := p.H.AllBucketIterator(); it.Next(); {
		bk := it.At()
		if bk.Count == 0 {
			continue
		}
		h.Buckets = append(h.Buckets, []any{boundaryRule(bk), formatFloat(bk.Lower), formatFloat(bk.Upper), formatFloat(bk.Count)})
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	b := append(appendTime([]byte{'['}, p.T), ',')
	b = append(b, hb...)
	return append(b, ']'), nil
}

// boundaryRule encodes which ends of a bucket are closed: 0 (a,b], 1 [a,b), 2 (a,b), 3 [a,b].
func boundaryRule(b histogram.Bucket[float64]) int {
	switch {
	case b.LowerInclusive && b.UpperInclusive:
		return 3
	case b.LowerInclusive:
		return 1
	case b.UpperInclusive:
		return 0
	default:
		return 2
	}
}

type vectorSample struct {
	Metric    labels.Labels   `json:"metric"`
	Value     *point          `json:"value,omitempty"`
	Histogram *histogramPoint `json:"histogram,omitempty"`
}

type matrixSeries struct {
	Metric     labels.Labels    `json:"metric"`
	Values     []point          `json:"values,omitempty"`
	Histograms []histogramPoint `json:"histograms,omitempty"`
}

type queryData struct {
	ResultType parser.ValueType `json:"resultType"`
	Result     any              `json:"result"`
}

// resultData converts an engine result into its JSON form.
func resultData(v parser.Value) queryData {
	switch v := v.(type) {
	case promql.Vector:
		out := make([]vectorSample, len(v))
		for i, s := range v {
			out[i].Metric = s.Metric
			if s.H != nil {
				out[i].Histogram = &histogramPoint{s.T, s.H}
			} else {
				out[i].Value = &point{s.T, s.F}
			}
		}
		return queryData{parser.ValueTypeVector, out}
	case promql.Matrix:
		out := make([]matrixSeries, len(v))
		for i, s := range v {
			out[i].Metric = s.Metric
			for _, p := range s.Floats {
				out[i].Values = append(out[i].Values, point{p.T, p.F})
			}
			for _, p := range s.Histograms {
				out[i].Histograms = append(out[i].Histograms, histogramPoint{p.T, p.H})
			}
		}
		return queryData{parser.ValueTypeMatrix, out}
	case promql.Scalar:
		return queryData{parser.ValueTypeScalar, point{v.T, v.V}}
	case promql.String:
		return queryData{parser.ValueTypeString, stringPoint{v.T, v.V}}
	}
	// The engine yields nothing else for a query; answer an empty vector rather than fail.
	return queryData{parser.ValueTypeVector, []vectorSample{}}
}

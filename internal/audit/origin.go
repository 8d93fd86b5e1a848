package audit

import "context"

// Origin is where an in-process caller's request came from: the console
// serves a browser, and its calls through the gateway should be recorded
// with the browser's address, marked as the console's.
type Origin struct {
	Via       string
	SourceIP  string
	UserAgent string
}

type originKey struct{}

// WithOrigin marks ctx's requests as made for o.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, &o)
}

// OriginFrom is the origin ctx carries, if any.
func OriginFrom(ctx context.Context) *Origin {
	o, _ := ctx.Value(originKey{}).(*Origin)
	return o
}

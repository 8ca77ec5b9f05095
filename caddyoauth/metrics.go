package caddyoauth

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the app's Prometheus collectors, in Caddy's registry.
type metrics struct {
	issued      *prometheus.CounterVec
	validations *prometheus.CounterVec
	revocations prometheus.Counter
	errors      *prometheus.CounterVec

	// The validation results, resolved once for the hot path.
	cacheHits, cacheMisses, invalid, faults prometheus.Counter
}

// registerMetrics registers the collectors, reusing those a previous config
// load already registered in the same registry.
func registerMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "caddy", "oauth"
	m := &metrics{
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "tokens_issued_total",
			Help: "Access tokens issued, by grant type.",
		}, []string{"grant_type"}),
		validations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "validations_total",
			Help: "Bearer token validations, by result (cache_hit, cache_miss, invalid, error).",
		}, []string{"result"}),
		revocations: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "revocations_total",
			Help: "Successful token revocations.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "errors_total",
			Help: "OAuth error responses, by error code.",
		}, []string{"error"}),
	}
	var err error
	m.issued, err = register(reg, m.issued)
	if err != nil {
		return nil, err
	}
	m.validations, err = register(reg, m.validations)
	if err != nil {
		return nil, err
	}
	m.revocations, err = register(reg, m.revocations)
	if err != nil {
		return nil, err
	}
	m.errors, err = register(reg, m.errors)
	if err != nil {
		return nil, err
	}
	m.cacheHits = m.validations.WithLabelValues("cache_hit")
	m.cacheMisses = m.validations.WithLabelValues("cache_miss")
	m.invalid = m.validations.WithLabelValues("invalid")
	m.faults = m.validations.WithLabelValues("error")
	return m, nil
}

// register registers c, or returns the equal collector already registered.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if reg == nil {
		return c, nil
	}
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

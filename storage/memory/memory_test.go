package memory

import (
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-oauth/caddy-oauth/caddyoauth"
	"github.com/caddy-oauth/caddy-oauth/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) caddyoauth.Store { return New() })
}

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		input   string
		wantErr bool
	}{
		{"memory", false},
		{"memory extra", true},
		{"memory {\n\tfoo\n}", true},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			err := new(Store).UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if (err != nil) != tt.wantErr {
				t.Fatalf("UnmarshalCaddyfile(%q) error = %v, want error: %v", tt.input, err, tt.wantErr)
			}
		})
	}
}

func BenchmarkStore(b *testing.B) {
	storagetest.Bench(b, func(b *testing.B) caddyoauth.Store { return New() })
}

// Command fosite is a minimal ory/fosite token server, set up as fosite's
// README and example do: compose.Compose with the HMAC (opaque token)
// strategy, the client credentials and resource owner password factories,
// and storage.NewMemoryStore holding one confidential client and one user.
// It serves POST /token on 127.0.0.1.
//
// Fosite stores client secrets hashed with its ClientSecretsHasher (bcrypt
// by default) and compares the hash on every request; -bcrypt-cost sets the
// cost of that hash. With -plain-secrets the client secret is compared as
// plain text instead, which isolates fosite's own token path from bcrypt.
package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/storage"
	"golang.org/x/crypto/bcrypt"
)

func main() {
	port := flag.Int("port", 9097, "TCP port to listen on, on 127.0.0.1")
	clientID := flag.String("client-id", "bench", "client_id of the one confidential client")
	clientSecret := flag.String("client-secret", "benchsecret", "secret of the client")
	username := flag.String("user", "alice", "username for the password grant")
	password := flag.String("password", "pw", "password of the user")
	cost := flag.Int("bcrypt-cost", bcrypt.MinCost, "bcrypt cost of the stored client secret hash")
	plain := flag.Bool("plain-secrets", false, "compare the client secret as plain text instead of bcrypt")
	flag.Parse()

	config := &fosite.Config{
		AccessTokenLifespan: time.Hour,
		GlobalSecret:        randomSecret(),
		HashCost:            *cost,
	}
	if *plain {
		config.ClientSecretsHasher = plainHasher{}
	}
	secret, err := config.GetSecretsHasher(context.Background()).Hash(context.Background(), []byte(*clientSecret))
	if err != nil {
		log.Fatalf("hashing client secret: %v", err)
	}

	store := storage.NewMemoryStore()
	store.Clients[*clientID] = &fosite.DefaultClient{
		ID:         *clientID,
		Secret:     secret,
		GrantTypes: []string{"client_credentials", "password", "refresh_token"},
		Scopes:     []string{"default", "read", "offline"},
	}
	store.Users[*username] = storage.MemoryUserRelation{Username: *username, Password: *password}

	provider := compose.Compose(
		config,
		store,
		compose.NewOAuth2HMACStrategy(config),
		compose.OAuth2ClientCredentialsGrantFactory,
		compose.OAuth2ResourceOwnerPasswordCredentialsFactory,
		compose.OAuth2RefreshTokenGrantFactory,
	)

	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		tokenEndpoint(provider, w, r)
	})

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(*port))
	hs := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("fosite token server on http://%s/token", addr)
	log.Fatal(hs.ListenAndServe())
}

// tokenEndpoint is the token endpoint of fosite's example: parse, grant the
// requested scopes, respond.
func tokenEndpoint(provider fosite.OAuth2Provider, w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, err := provider.NewAccessRequest(ctx, r, new(fosite.DefaultSession))
	if err != nil {
		provider.WriteAccessError(ctx, w, req, err)
		return
	}
	for _, scope := range req.GetRequestedScopes() {
		req.GrantScope(scope)
	}
	resp, err := provider.NewAccessResponse(ctx, req)
	if err != nil {
		provider.WriteAccessError(ctx, w, req, err)
		return
	}
	provider.WriteAccessResponse(ctx, w, req, resp)
}

// randomSecret returns the 32-byte HMAC key of the opaque token strategy.
func randomSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

// plainHasher is a fosite.Hasher that stores and compares secrets as they are.
type plainHasher struct{}

func (plainHasher) Hash(_ context.Context, data []byte) ([]byte, error) { return data, nil }

func (plainHasher) Compare(_ context.Context, hash, data []byte) error {
	if subtle.ConstantTimeCompare(hash, data) != 1 {
		return errors.New("secret mismatch")
	}
	return nil
}

var _ fosite.Hasher = plainHasher{}

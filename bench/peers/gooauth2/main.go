// Command gooauth2 is a minimal go-oauth2 token server, set up as the
// library's README and example server do: the default manager, the in-memory
// token store, one client in the in-memory client store and one user for the
// password grant. It serves POST /token on 127.0.0.1 with opaque tokens.
package main

import (
	"context"
	"crypto/subtle"
	"flag"
	"log"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/models"
	"github.com/go-oauth2/oauth2/v4/server"
	"github.com/go-oauth2/oauth2/v4/store"
)

func main() {
	port := flag.Int("port", 9096, "TCP port to listen on, on 127.0.0.1")
	clientID := flag.String("client-id", "bench", "client_id of the one confidential client")
	clientSecret := flag.String("client-secret", "benchsecret", "secret of the client")
	username := flag.String("user", "alice", "username for the password grant")
	password := flag.String("password", "pw", "password of the user")
	flag.Parse()

	manager := manage.NewDefaultManager()
	manager.MustTokenStorage(store.NewMemoryTokenStore())

	clients := store.NewClientStore()
	if err := clients.Set(*clientID, &models.Client{ID: *clientID, Secret: *clientSecret, Domain: "http://127.0.0.1"}); err != nil {
		log.Fatalf("registering client: %v", err)
	}
	manager.MapClientStorage(clients)

	srv := server.NewDefaultServer(manager)
	srv.SetPasswordAuthorizationHandler(func(_ context.Context, _, user, pass string) (string, error) {
		if user == *username && subtle.ConstantTimeCompare([]byte(pass), []byte(*password)) == 1 {
			return user, nil
		}
		return "", errors.ErrInvalidGrant
	})
	srv.SetInternalErrorHandler(func(err error) *errors.Response {
		log.Printf("internal error: %v", err)
		return nil
	})

	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if err := srv.HandleTokenRequest(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(*port))
	hs := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("go-oauth2 token server on http://%s/token", addr)
	log.Fatal(hs.ListenAndServe())
}

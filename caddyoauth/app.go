package caddyoauth

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(new(App))
}

// Defaults of the app's configuration.
const (
	DefaultAccessTokenTTL  = time.Hour
	DefaultRefreshTokenTTL = 24 * time.Hour
	DefaultCodeTTL         = time.Minute
	DefaultSessionTTL      = 10 * time.Minute
	MaxCodeTTL             = 10 * time.Minute
	DefaultCacheSize       = 100_000
	DefaultSweepInterval   = 10 * time.Minute
	defaultStorageModule   = "bbolt"
)

// App is the `oauth` app: the one OAuth 2.0 authorization server of a Caddy
// instance. It holds the clients, the users, the grant types and the token
// store; the `oauth_server` handler serves its endpoints and `oauth_bearer`
// checks its access tokens. In the Caddyfile it is the `oauth` global option.
type App struct {
	// StorageRaw is the token store, a module in the "oauth.storage"
	// namespace. Default: bbolt, in a file under Caddy's data directory.
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=oauth.storage inline_key=backend"`

	// AccessTokenTTL is how long an access token is valid. Default: 1h.
	AccessTokenTTL caddy.Duration `json:"access_token_ttl,omitempty"`

	// RefreshTokenTTL is how long a refresh token is valid. Default: 24h.
	RefreshTokenTTL caddy.Duration `json:"refresh_token_ttl,omitempty"`

	// CodeTTL is how long an authorization code is valid. Default: 1m; at
	// most 10m.
	CodeTTL caddy.Duration `json:"code_ttl,omitempty"`

	// SessionTTL is how long a resource owner who signed in on the
	// authorization page stays signed in there: within it, another
	// authorization from the same browser asks only for consent, not for
	// the password (unless the request says prompt=login). Default: 10m.
	SessionTTL caddy.Duration `json:"session_ttl,omitempty"`

	// AuthorizeTemplate is the path of an html/template file that replaces
	// the built-in sign-in, consent and error page of /authorize. It is
	// loaded when the config loads; see AuthorizePage for the data it
	// gets. Default: the built-in page.
	AuthorizeTemplate string `json:"authorize_template,omitempty"`

	// RevocationHeaders adds WSO2's RevokedAccessToken, AuthorizedUser and
	// RevokedRefreshToken headers to successful revocations. Default: off.
	RevocationHeaders bool `json:"revocation_headers,omitempty"`

	// Issuer is the issuer identifier published in the RFC 8414 metadata.
	// Default: the scheme and host of the metadata request.
	Issuer string `json:"issuer,omitempty"`

	// Clients are the registered OAuth clients.
	Clients []*Client `json:"clients,omitempty"`

	// Users are the resource owners who may sign in (password grant, and
	// the authorization page).
	Users []*User `json:"users,omitempty"`

	// GrantsRaw configures grant modules of the "oauth.grants" namespace.
	// Every registered grant module not listed here is loaded with its zero
	// configuration.
	GrantsRaw []json.RawMessage `json:"grants,omitempty" caddy:"namespace=oauth.grants inline_key=grant"`

	// CacheSize is the number of validated access tokens `oauth_bearer`
	// keeps in memory. Default: 100000.
	CacheSize int `json:"cache_size,omitempty"`

	// SweepInterval is how often expired records are deleted from the
	// store. Default: 10m.
	SweepInterval caddy.Duration `json:"sweep_interval,omitempty"`

	// Limits bounds failed authentications. Default: see Limits.
	Limits *Limits `json:"limits,omitempty"`

	store Store
	// fakeUserHash and fakeClientHash are compared against for unknown
	// users and clients (see fakeHashLike); fakeUserHash is nil without
	// users, fakeClientHash when no client secret is hashed.
	fakeUserHash   *secretHash
	fakeClientHash *secretHash
	grants         map[string]Grant
	clients        map[string]*Client
	users          map[string]*User
	cache          *Cache
	limiter        *failureLimiter
	authorizePage  *template.Template
	issuerOrigin   string // scheme and host of Issuer; empty without one
	metrics        *metrics
	logger         *zap.Logger
	now            func() time.Time
	cancel         context.CancelFunc
	sweeping       sync.WaitGroup

	// failures pads every failed credential check to the slowest.
	failures failureFloor
}

// CaddyModule returns the Caddy module information.
func (*App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oauth",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision loads the store and the grants and checks the clients and users.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	if a.now == nil {
		a.now = time.Now
	}
	if a.AccessTokenTTL <= 0 {
		a.AccessTokenTTL = caddy.Duration(DefaultAccessTokenTTL)
	}
	if a.RefreshTokenTTL <= 0 {
		a.RefreshTokenTTL = caddy.Duration(DefaultRefreshTokenTTL)
	}
	if a.CodeTTL <= 0 {
		a.CodeTTL = caddy.Duration(DefaultCodeTTL)
	}
	if a.CacheSize <= 0 {
		a.CacheSize = DefaultCacheSize
	}
	if a.SweepInterval <= 0 {
		a.SweepInterval = caddy.Duration(DefaultSweepInterval)
	}
	if a.SessionTTL <= 0 {
		a.SessionTTL = caddy.Duration(DefaultSessionTTL)
	}
	if a.Limits == nil {
		a.Limits = new(Limits)
	}
	a.Limits.setDefaults()
	if a.CodeTTL > caddy.Duration(MaxCodeTTL) {
		return fmt.Errorf("code_ttl: %s is longer than the maximum of %s", time.Duration(a.CodeTTL), MaxCodeTTL)
	}

	if err := a.provisionIssuer(); err != nil {
		return err
	}
	if err := a.provisionStore(ctx); err != nil {
		return err
	}
	if err := a.provisionGrants(ctx); err != nil {
		return err
	}
	if err := a.provisionUsers(); err != nil {
		return err
	}
	if err := a.provisionClients(); err != nil {
		return err
	}
	if err := a.provisionAuthorizePage(); err != nil {
		return err
	}

	cache, err := NewCache(a.CacheSize)
	if err != nil {
		return fmt.Errorf("validation cache: %v", err)
	}
	a.cache = cache
	a.limiter = newFailureLimiter(*a.Limits, a.now)
	a.metrics, err = registerMetrics(ctx.GetMetricsRegistry())
	if err != nil {
		return fmt.Errorf("registering metrics: %v", err)
	}
	a.seedFailureFloor(ctx)
	return nil
}

func (a *App) provisionStore(ctx caddy.Context) error {
	if a.StorageRaw == nil {
		a.StorageRaw = storageModuleJSON(defaultStorageModule)
	}
	mod, err := ctx.LoadModule(a, "StorageRaw")
	if err != nil {
		return fmt.Errorf("loading storage: %v", err)
	}
	store, ok := mod.(Store)
	if !ok {
		return fmt.Errorf("storage module %T is not an oauth store", mod)
	}
	a.store = store
	return nil
}

// storageModuleJSON returns the JSON of a storage module with no
// configuration but its name.
func storageModuleJSON(name string) json.RawMessage {
	raw, _ := json.Marshal(map[string]string{"backend": name})
	return raw
}

func (a *App) provisionGrants(ctx caddy.Context) error {
	a.grants = make(map[string]Grant)
	configured := make(map[string]bool)
	mods, err := ctx.LoadModule(a, "GrantsRaw")
	if err != nil {
		return fmt.Errorf("loading grants: %v", err)
	}
	if mods != nil {
		for i, mod := range mods.([]any) {
			g, ok := mod.(Grant)
			if !ok {
				return fmt.Errorf("grants[%d]: module %T is not a grant", i, mod)
			}
			if err := a.addGrant(g); err != nil {
				return err
			}
			configured[mod.(caddy.Module).CaddyModule().ID.Name()] = true
		}
	}
	for _, info := range caddy.GetModules("oauth.grants") {
		if configured[info.ID.Name()] {
			continue
		}
		mod, err := ctx.LoadModuleByID(string(info.ID), nil)
		if err != nil {
			return fmt.Errorf("loading grant %s: %v", info.ID, err)
		}
		g, ok := mod.(Grant)
		if !ok {
			return fmt.Errorf("module %s is not a grant", info.ID)
		}
		if err := a.addGrant(g); err != nil {
			return err
		}
	}
	return nil
}

func (a *App) addGrant(g Grant) error {
	gt := g.GrantType()
	if _, dup := a.grants[gt]; dup {
		return fmt.Errorf("grant type %q is served by two modules", gt)
	}
	a.grants[gt] = g
	return nil
}

// provisionIssuer replaces placeholders in the issuer and checks it is an
// issuer identifier (RFC 8414 §2): https (http only for loopback), no query
// or fragment.
func (a *App) provisionIssuer() error {
	if a.Issuer == "" {
		return nil
	}
	a.Issuer = caddy.NewReplacer().ReplaceKnown(a.Issuer, "")
	u, err := url.Parse(a.Issuer)
	if err != nil {
		return fmt.Errorf("issuer: %v", err)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.Host == "" ||
		(u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
		return fmt.Errorf("issuer: %q must be an https URL without query or fragment", a.Issuer)
	}
	a.Issuer = strings.TrimSuffix(a.Issuer, "/")
	a.issuerOrigin = u.Scheme + "://" + u.Host
	return nil
}

// Start begins sweeping expired records and, for shared stores, watching
// other nodes' revocations.
func (a *App) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.sweeping.Add(1)
	go a.sweepLoop(ctx)
	if w, ok := a.store.(RevocationWatcher); ok {
		// This node hears other nodes' revocations only through the
		// watcher: the cache serves tokens only while the watcher
		// confirms it hears them, and is dropped each time it starts to
		// listen (the first time, and after a reconnect).
		a.cache.Watch()
		l := RevocationListener{Revoked: a.cache.Evict, Reset: a.cache.Purge, Heard: a.cache.Heard}
		a.sweeping.Add(2)
		go func() {
			defer a.sweeping.Done()
			err := w.WatchRevocations(ctx, l)
			if err != nil && ctx.Err() == nil {
				a.logger.Error("watching revocations stopped", zap.Error(err))
			}
		}()
		go a.logWatcherSilence(ctx)
	}
	return nil
}

// logWatcherSilence logs when the revocation watcher falls silent, so that
// this node validates every token against the store, and when it is heard
// again. A watcher still connecting at start is given startupGrace.
func (a *App) logWatcherSilence(ctx context.Context) {
	defer a.sweeping.Done()
	const startupGrace = 5 * time.Second
	started := time.Now()
	ticker := time.NewTicker(RevocationDelay / 4)
	defer ticker.Stop()
	heard, warned := false, false
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		fresh := a.cache.fresh()
		switch {
		case !fresh && !warned && (heard || time.Since(started) >= startupGrace):
			a.logger.Warn("the revocation watcher has not heard the store for over a second; validating every token against the store until it does",
				zap.Duration("revocation_delay", RevocationDelay))
			warned = true
		case fresh && warned:
			a.logger.Info("the revocation watcher hears the store again; serving cached tokens")
			warned = false
		}
		heard = heard || fresh
	}
}

// Stop ends the background work started by Start.
func (a *App) Stop() error {
	if a.cancel != nil {
		a.cancel()
	}
	a.sweeping.Wait()
	return nil
}

func (a *App) sweepLoop(ctx context.Context) {
	defer a.sweeping.Done()
	ticker := time.NewTicker(time.Duration(a.SweepInterval))
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			a.sweep(ctx)
		}
	}
}

// sweep deletes the records that have expired.
func (a *App) sweep(ctx context.Context) {
	n, err := a.store.Sweep(ctx, a.now())
	if err != nil {
		a.logger.Error("sweeping expired tokens", zap.Error(err))
		return
	}
	if n > 0 {
		a.logger.Debug("swept expired tokens", zap.Int("count", n))
	}
}

// Store returns the app's token store.
func (a *App) Store() Store { return a.store }

// Interface guards
var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
)

package caddyoauth

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// TestFakeHashLike checks that the hash compared against for unknown names
// costs what the configured hash costs and matches no password.
func TestFakeHashLike(t *testing.T) {
	const password = "s3cret-Passw0rd"
	bcryptHash := func(cost int) string {
		h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	salt := []byte("0123456789abcdef")
	argon := fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, 8*1024, 1, 1,
		base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte(password), salt, 1, 8*1024, 1, 32)))
	params := func(h []byte) string { return string(h[:bytes.LastIndexByte(h, '$')]) }
	for _, tc := range []struct {
		name string
		hash string
		// same reports whether fake has the cost parameters of real.
		same func(real, fake []byte) bool
	}{
		{"bcrypt cost 4", bcryptHash(4), sameBcryptCost},
		{"bcrypt cost 11", bcryptHash(11), sameBcryptCost},
		// argon2id: "$argon2id$v=19$m=…,t=…,p=…$<salt>$<digest>": everything
		// but the digest is kept.
		{"argon2id", argon, func(real, fake []byte) bool { return params(real) == params(fake) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			real, err := parseSecretHash(tc.hash)
			if err != nil {
				t.Fatal(err)
			}
			fake := fakeHashLike(real)
			if fake == fakeHash || bytes.Equal(fake.hashed, real.hashed) {
				t.Fatalf("fakeHashLike(%s) = %s, want a hash of its own", real.hashed, fake.hashed)
			}
			if !tc.same(real.hashed, fake.hashed) {
				t.Errorf("fake %s does not cost what %s costs", fake.hashed, real.hashed)
			}
			if !real.compare(password, nil) {
				t.Fatal("the real hash does not match its password")
			}
			if fake.compare(password, nil) || fake.compare("", nil) {
				t.Error("the fake hash matched a password")
			}
		})
	}
	if fakeHashLike(nil) != fakeHash {
		t.Error("fakeHashLike(nil) is not Caddy's fake hash")
	}
}

func sameBcryptCost(real, fake []byte) bool {
	a, errA := bcrypt.Cost(real)
	b, errB := bcrypt.Cost(fake)
	return errA == nil && errB == nil && a == b
}

// TestUnknownNamesCostAsMuchAsKnownOnes checks that the app compares
// unknown users and clients against hashes as costly as the configured
// ones, not against Caddy's fixed cost-14 fake hash.
func TestUnknownNamesCostAsMuchAsKnownOnes(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), 5)
	if err != nil {
		t.Fatal(err)
	}
	a := &App{
		Users:   []*User{{Name: "alice", PasswordHash: string(hash)}},
		Clients: []*Client{{ID: "c", SecretHash: string(hash), GrantTypes: []string{"client_credentials"}}},
		grants:  map[string]Grant{"client_credentials": nil},
	}
	if err := a.provisionUsers(); err != nil {
		t.Fatal(err)
	}
	if err := a.provisionClients(); err != nil {
		t.Fatal(err)
	}
	for name, fake := range map[string]*secretHash{"users": a.fakeUserHash, "clients": a.fakeClientHash} {
		if fake == nil || !sameBcryptCost(hash, fake.hashed) {
			t.Errorf("unknown %s are checked against %v, want a bcrypt hash of cost 5", name, fake)
		}
	}
}

// TestHashClass checks that hashes are told apart by what their
// verification costs (algorithm and parameters), not by salt or digest.
func TestHashClass(t *testing.T) {
	bcryptHash := func(password string, cost int) string {
		h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	argonHash := func(salt string, memory uint32, keyLen uint32) string {
		return fmt.Sprintf("$argon2id$v=%d$m=%d,t=1,p=1$%s$%s", argon2.Version, memory,
			base64.RawStdEncoding.EncodeToString([]byte(salt)),
			base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte("pw"), []byte(salt), 1, memory, 1, keyLen)))
	}
	for _, tc := range []struct {
		name string
		a, b string
		same bool
	}{
		{"bcrypt, same cost", bcryptHash("a", 4), bcryptHash("b", 4), true},
		{"bcrypt, other cost", bcryptHash("a", 4), bcryptHash("a", 5), false},
		{"argon2id, same parameters", argonHash("0123456789abcdef", 1024, 32), argonHash("fedcba9876543210", 1024, 32), true},
		{"argon2id, other memory", argonHash("0123456789abcdef", 1024, 32), argonHash("0123456789abcdef", 2048, 32), false},
		{"argon2id, other key length", argonHash("0123456789abcdef", 1024, 32), argonHash("0123456789abcdef", 1024, 16), false},
		{"bcrypt and argon2id", bcryptHash("a", 4), argonHash("0123456789abcdef", 1024, 32), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := parseSecretHash(tc.a)
			if err != nil {
				t.Fatal(err)
			}
			b, err := parseSecretHash(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if same := a.class() == b.class(); same != tc.same {
				t.Errorf("classes %q and %q: same = %v, want %v", a.class(), b.class(), same, tc.same)
			}
		})
	}
}

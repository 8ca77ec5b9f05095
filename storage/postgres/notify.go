package postgres

import (
	"context"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// revocationChannel is the channel on which RevokeFamily announces the
// hashes it revoked, and on which WatchRevocations listens.
const revocationChannel = "caddy_oauth_revocations"

// hashesPerNotification bounds the hashes of one notification, whose
// payload must be shorter than 8000 bytes: 100 hashes of 64 hex digits and
// their separators take 6499.
const hashesPerNotification = 100

// notify sends the hashes on the revocation channel in tx, in as many
// notifications as they need, which PostgreSQL delivers when tx commits.
func notify(ctx context.Context, tx pgx.Tx, hashes []string) error {
	if len(hashes) == 0 {
		return nil
	}
	payloads := make([]string, 0, (len(hashes)+hashesPerNotification-1)/hashesPerNotification)
	for chunk := range slices.Chunk(hashes, hashesPerNotification) {
		payloads = append(payloads, strings.Join(chunk, ","))
	}
	_, err := tx.Exec(ctx, "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", revocationChannel, payloads)
	return err
}

// parsePayload returns the hashes of a notification's payload.
func parsePayload(payload string) []string {
	return strings.FieldsFunc(payload, func(r rune) bool { return r == ',' })
}

package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/store/storetest"
)

// TestStaffResetTOTPCommand resets the authenticator of an account whose
// owner lost it: TOTP off, sessions ended, the reset audited.
func TestStaffResetTOTPCommand(t *testing.T) {
	url := storetest.NewDatabase(t)
	env := func(k string) string {
		return map[string]string{"DATABASE_URL": url, "DATA_KEY": storetest.DataKey(t)}[k]
	}
	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), args, env, strings.NewReader(""), &out, io.Discard)
		return out.String(), err
	}
	st := storetest.OpenStore(t, url, storetest.Keys(t))
	ctx := t.Context()
	lost, err := st.CreateStaff(ctx, "lost@ombudsman.az", migrantbot.RoleAdmin, "hash", false)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	if err := st.BeginTOTP(ctx, lost.ID, secret); err != nil {
		t.Fatal(err)
	}
	if err := st.EnableTOTP(ctx, lost.ID, secret, 1); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateStaffSession(ctx, lost.ID, "token-hash", "csrf", "10.0.0.1", false); err != nil {
		t.Fatal(err)
	}

	out, err := cli("staff", "reset-totp", "--email", "LOST@ombudsman.az")
	if err != nil || !strings.Contains(out, "lost@ombudsman.az") {
		t.Fatalf("staff reset-totp: %v\n%s", err, out)
	}
	if s, err := st.StaffByID(ctx, lost.ID); err != nil || s.TOTPEnabled {
		t.Errorf("after reset-totp: TOTPEnabled %v (%v), want false", s.TOTPEnabled, err)
	}
	if _, _, _, err := st.StaffTOTP(ctx, lost.ID); migrantbot.ErrorCode(err) != migrantbot.ENOTFOUND {
		t.Errorf("the secret is still stored (err %v)", err)
	}
	if list, err := st.ListStaffSessions(ctx, lost.ID, time.Hour, time.Hour); err != nil || len(list) != 0 {
		t.Errorf("sessions after reset-totp: got %d (%v), want 0", len(list), err)
	}
	entries, err := st.FindAudit(ctx, migrantbot.AuditFilter{Actor: "cli", Action: "totp.reset", Target: "lost@ombudsman.az"})
	if err != nil || len(entries) != 1 {
		t.Errorf("audit of reset-totp: got %+v (%v), want one entry", entries, err)
	}
	if _, err := cli("staff", "reset-totp", "--email", "nobody@ombudsman.az"); migrantbot.ErrorCode(err) != migrantbot.ENOTFOUND {
		t.Errorf("reset-totp of an unknown account: got %v, want not found", err)
	}
}

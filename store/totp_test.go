package store_test

import (
	"strings"
	"testing"

	"migrantbot"
	"migrantbot/store/storetest"
)

// TestStaffTOTP walks an account through the life of its second factor:
// enrollment, confirmation, codes used once, switching off, and a reset.
func TestStaffTOTP(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	st := newStaff(t, s, "anna@ombudsman.example", migrantbot.RoleAdmin)
	const secret, other = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"

	_, _, _, err := s.StaffTOTP(ctx, st.ID)
	wantCode(t, "StaffTOTP before enrollment", err, migrantbot.ENOTFOUND)
	wantCode(t, "BeginTOTP of nobody", s.BeginTOTP(ctx, 999, secret), migrantbot.ENOTFOUND)
	wantCode(t, "BeginTOTP with no secret", s.BeginTOTP(ctx, st.ID, ""), migrantbot.EINVALID)
	wantCode(t, "EnableTOTP before enrollment", s.EnableTOTP(ctx, st.ID, secret, 10), migrantbot.ENOTFOUND)
	wantCode(t, "UseTOTPStep before enrollment", s.UseTOTPStep(ctx, st.ID, 10), migrantbot.ENOTFOUND)

	must(t, "BeginTOTP", s.BeginTOTP(ctx, st.ID, other))
	must(t, "BeginTOTP again replaces the pending secret", s.BeginTOTP(ctx, st.ID, secret))
	got, enabled, _, err := s.StaffTOTP(ctx, st.ID)
	must(t, "StaffTOTP", err)
	if got != secret || enabled {
		t.Errorf("StaffTOTP while enrolling: got %q enabled=%v, want %q enabled=false", got, enabled, secret)
	}
	// The secret is sealed like personal data: a dump cannot make codes.
	var raw string
	if err := s.Pool().QueryRow(ctx, `SELECT totp_secret FROM staff WHERE id = $1`, st.ID).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw, secret) || raw == "" {
		t.Errorf("stored totp_secret %q holds the plain secret", raw)
	}
	wantCode(t, "UseTOTPStep while enrolling", s.UseTOTPStep(ctx, st.ID, 10), migrantbot.ENOTFOUND)
	wantCode(t, "EnableTOTP with a replaced secret", s.EnableTOTP(ctx, st.ID, other, 10), migrantbot.ECONFLICT)
	if a, _ := s.StaffByID(ctx, st.ID); a.TOTPEnabled {
		t.Fatalf("TOTP on before a code confirmed it")
	}

	must(t, "EnableTOTP", s.EnableTOTP(ctx, st.ID, secret, 10))
	if a, _ := s.StaffByID(ctx, st.ID); !a.TOTPEnabled {
		t.Errorf("Staff.TOTPEnabled after EnableTOTP: got false")
	}
	if _, enabled, last, _ := s.StaffTOTP(ctx, st.ID); !enabled || last != 10 {
		t.Errorf("after EnableTOTP: enabled=%v last step %d, want true and 10", enabled, last)
	}
	wantCode(t, "EnableTOTP twice", s.EnableTOTP(ctx, st.ID, secret, 11), migrantbot.ECONFLICT)
	wantCode(t, "BeginTOTP while on", s.BeginTOTP(ctx, st.ID, other), migrantbot.ECONFLICT)

	steps := []struct {
		step int64
		want string // error code
	}{
		{10, migrantbot.ECONFLICT}, // the confirming code, replayed
		{11, ""},
		{11, migrantbot.ECONFLICT},
		{9, migrantbot.ECONFLICT}, // an older code after a newer one
		{12, ""},
	}
	for _, tc := range steps {
		wantCode(t, "UseTOTPStep", s.UseTOTPStep(ctx, st.ID, tc.step), tc.want)
	}

	must(t, "DisableTOTP", s.DisableTOTP(ctx, st.ID))
	_, _, _, err = s.StaffTOTP(ctx, st.ID)
	wantCode(t, "StaffTOTP after DisableTOTP", err, migrantbot.ENOTFOUND)
	wantCode(t, "DisableTOTP of nobody", s.DisableTOTP(ctx, 999), migrantbot.ENOTFOUND)

	// A reset forgets the secret and ends the account's sessions, and only
	// its own.
	boss := newStaff(t, s, "boss@ombudsman.example", migrantbot.RoleAdmin)
	must(t, "BeginTOTP", s.BeginTOTP(ctx, st.ID, secret))
	must(t, "EnableTOTP", s.EnableTOTP(ctx, st.ID, secret, 20))
	must(t, "CreateStaffSession", s.CreateStaffSession(ctx, st.ID, "tok-1", "csrf", "", false))
	must(t, "CreateStaffSession", s.CreateStaffSession(ctx, st.ID, "tok-2", "csrf", "", true))
	must(t, "CreateStaffSession", s.CreateStaffSession(ctx, boss.ID, "tok-3", "csrf", "", false))
	must(t, "ResetTOTP", s.ResetTOTP(ctx, st.ID))
	if a, _ := s.StaffByID(ctx, st.ID); a.TOTPEnabled {
		t.Errorf("TOTP on after ResetTOTP")
	}
	if n := count(t, s, `SELECT count(*) FROM staff_sessions WHERE staff_id = $1`, st.ID); n != 0 {
		t.Errorf("sessions after ResetTOTP: got %d, want 0", n)
	}
	if n := count(t, s, `SELECT count(*) FROM staff_sessions WHERE staff_id = $1`, boss.ID); n != 1 {
		t.Errorf("sessions of another account after ResetTOTP: got %d, want 1", n)
	}
	wantCode(t, "ResetTOTP of nobody", s.ResetTOTP(ctx, 999), migrantbot.ENOTFOUND)
}

package fielderr

import (
	"errors"
	"fmt"
	"testing"
)

func TestRenameNamesTheFieldInTheCallersSpelling(t *testing.T) {
	err := fmt.Errorf("judge: %w", New("pass_score", "must be between 0 and 100, got 120"))
	got := Rename(err, func(f string) string { return "--" + f })
	if got != "--pass_score must be between 0 and 100, got 120" {
		t.Errorf("Rename = %q", got)
	}
	if got := Rename(errors.New("plain"), func(string) string { return "x" }); got != "plain" {
		t.Errorf("Rename(plain) = %q", got)
	}
}

func TestRenameNamesTheOtherFieldToo(t *testing.T) {
	err := fmt.Errorf("open: %w", WithOther("password", "is required with %s", "username"))
	if got := err.Error(); got != "open: password is required with username" {
		t.Errorf("Error = %q", got)
	}
	got := Rename(err, Names(map[string]string{"password": "etcd_password", "username": "etcd_username"}))
	if got != "etcd_password is required with etcd_username" {
		t.Errorf("Rename = %q", got)
	}
	fe, _ := As(err)
	if r := fe.Renamed(Names(map[string]string{"username": "--etcd-username"})); r.Field != "password" || r.Problem != "is required with --etcd-username" || r.Other != "" {
		t.Errorf("Renamed = %+v", r)
	}
}

func TestAPercentInAPlainProblemStaysAPercent(t *testing.T) {
	err := Errorf("ratio", "must be at most %d%%, got %q", 100, "120%")
	if got := Rename(err, Names(nil)); got != `ratio must be at most 100%, got "120%"` {
		t.Errorf("Rename = %q", got)
	}
}

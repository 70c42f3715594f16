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

package tests

import (
	"os"
	"testing"

	"github.com/threader/guard/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.CleanBinaryCache(m)) }

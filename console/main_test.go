package console

import (
	"os"
	"testing"

	"migrantbot/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

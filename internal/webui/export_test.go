package webui_test

import "github.com/openccm/openccm/internal/account"

func accountPatch() account.Patch { return account.Patch{} }

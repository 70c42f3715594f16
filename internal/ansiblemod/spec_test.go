package ansiblemod

import "testing"

func TestMergeOptionsHoldsEveryPartAndLeavesThemAlone(t *testing.T) {
	own := map[string]Option{"job": {Type: Str}}
	backend := map[string]Option{"url": {Type: Str}, "job": {Type: Int}}
	got := MergeOptions(own, backend)
	if len(got) != 2 || got["url"].Type != Str || got["job"].Type != Int || len(own) != 1 {
		t.Errorf("MergeOptions = %v, own = %v", got, own)
	}
}

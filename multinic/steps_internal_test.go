package multinic

import "testing"

// Every step of the table can say what it lacks when skipped, and steps
// only need what an earlier step finds.
func TestStepTableIsComplete(t *testing.T) {
	found := map[fact]bool{}
	for id, st := range steps {
		if st.name == "" || st.title == "" || st.reason == "" {
			t.Errorf("step %d has no name, title or reason", id)
		}
		for _, s := range st.settings {
			if settingText[s] == "" {
				t.Errorf("step %s needs %s, which has no words for a skip message", st.name, s)
			}
		}
		for _, f := range st.needs {
			if !found[f] {
				t.Errorf("step %s needs %q, which no earlier step finds", st.name, factText[f])
			}
		}
		for _, f := range st.provides {
			found[f] = true
		}
	}
	for f := range factText {
		if factText[f] == "" {
			t.Errorf("fact %d has no text", f)
		}
	}
}

package inventory

// ReadFile loads the records of the inventory file at path without opening
// a Store: nothing is created, moved or rewritten, so a tool may read the
// file of a running operator (a copy of it, or through a mounted volume).
// A missing file matches os.ErrNotExist; a corrupt one ErrCorrupt.
func ReadFile(path string) ([]Record, error) {
	return readFile(path)
}

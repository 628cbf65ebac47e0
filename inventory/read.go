package inventory

// ReadFile loads the records of the inventory at path without opening a
// Store: nothing is created, moved or rewritten, so a tool may read the
// inventory of a running operator (a copy of it, or through a mounted
// volume). path is the inventory's file, as INVENTORY_DB_PATH names it: the
// marker, whose shards are read from the directory it names, or a single
// file of an earlier version. The records come sorted by provider, then node
// name. A missing file or shard directory matches os.ErrNotExist; a corrupt
// marker or shard ErrCorrupt, naming the file.
func ReadFile(path string) ([]Record, error) {
	lay, err := readLayout(path)
	if err != nil {
		return nil, err
	}
	records := lay.records
	if lay.version == fileVersion {
		records, err = readShards(lay.shardDir, func(_ string, err error) error { return err })
		if err != nil {
			return nil, err
		}
	}
	return newSnapshot(records).allRecords(), nil
}

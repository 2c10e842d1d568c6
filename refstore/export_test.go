package refstore

// For the tests of the record codec.
var (
	EncodeRecord = encodeRecord
	DecodeRecord = decodeRecord
	Tombstone    = tombstone
)

package snixpb

import (
	"fmt"
	"math/bits"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
)

// ToTvixDirectory returns d as a tvix.castore.v1 Directory, sharing its
// byte slices. It does not validate: castorepb.ToDirectory does.
func ToTvixDirectory(d *Directory) *pb.Directory {
	out := &pb.Directory{
		Directories: make([]*pb.DirectoryNode, len(d.GetDirectories())),
		Files:       make([]*pb.FileNode, len(d.GetFiles())),
		Symlinks:    make([]*pb.SymlinkNode, len(d.GetSymlinks())),
	}
	for i, e := range d.GetDirectories() {
		out.Directories[i] = &pb.DirectoryNode{Name: e.GetName(), Digest: e.GetDigest(), Size: e.GetSize()}
	}
	for i, e := range d.GetFiles() {
		out.Files[i] = &pb.FileNode{Name: e.GetName(), Digest: e.GetDigest(), Size: e.GetSize(), Executable: e.GetExecutable()}
	}
	for i, e := range d.GetSymlinks() {
		out.Symlinks[i] = &pb.SymlinkNode{Name: e.GetName(), Target: e.GetTarget()}
	}
	return out
}

// FromTvixDirectory returns a tvix.castore.v1 Directory under its snix
// name, sharing its byte slices.
func FromTvixDirectory(d *pb.Directory) *Directory {
	out := &Directory{}
	if n := len(d.GetDirectories()); n > 0 {
		out.Directories = make([]*DirectoryEntry, n)
		for i, e := range d.GetDirectories() {
			out.Directories[i] = &DirectoryEntry{Name: e.GetName(), Digest: e.GetDigest(), Size: e.GetSize()}
		}
	}
	if n := len(d.GetFiles()); n > 0 {
		out.Files = make([]*FileEntry, n)
		for i, e := range d.GetFiles() {
			out.Files[i] = &FileEntry{Name: e.GetName(), Digest: e.GetDigest(), Size: e.GetSize(), Executable: e.GetExecutable()}
		}
	}
	if n := len(d.GetSymlinks()); n > 0 {
		out.Symlinks = make([]*SymlinkEntry, n)
		for i, e := range d.GetSymlinks() {
			out.Symlinks[i] = &SymlinkEntry{Name: e.GetName(), Target: e.GetTarget()}
		}
	}
	return out
}

// ToDirectory validates a wire Directory and converts it, as
// castorepb.ToDirectory does for the tvix one.
func ToDirectory(d *Directory) (*castore.Directory, error) {
	return pb.ToDirectory(ToTvixDirectory(d))
}

// FromDirectory converts a Directory to its snix wire form.
func FromDirectory(d *castore.Directory) *Directory {
	return FromTvixDirectory(pb.FromDirectory(d))
}

// The legacy BlobService and the DirectoryService have the same requests
// and responses under both names; these convert them.

func StatBlobRequestToTvix(r *StatBlobRequest) *pb.StatBlobRequest {
	return &pb.StatBlobRequest{Digest: r.GetDigest(), SendChunks: r.GetSendChunks(), SendBao: r.GetSendBao()}
}

func StatBlobResponseFromTvix(r *pb.StatBlobResponse) *StatBlobResponse {
	out := &StatBlobResponse{Bao: r.GetBao()}
	if n := len(r.GetChunks()); n > 0 {
		out.Chunks = make([]*StatBlobResponse_ChunkMeta, n)
		for i, c := range r.GetChunks() {
			out.Chunks[i] = &StatBlobResponse_ChunkMeta{Digest: c.GetDigest(), Size: c.GetSize()}
		}
	}
	return out
}

func ReadBlobRequestToTvix(r *ReadBlobRequest) *pb.ReadBlobRequest {
	return &pb.ReadBlobRequest{Digest: r.GetDigest()}
}

func BlobChunkToTvix(c *BlobChunk) *pb.BlobChunk { return &pb.BlobChunk{Data: c.GetData()} }

func BlobChunkFromTvix(c *pb.BlobChunk) *BlobChunk { return &BlobChunk{Data: c.GetData()} }

func PutBlobResponseFromTvix(r *pb.PutBlobResponse) *PutBlobResponse {
	return &PutBlobResponse{Digest: r.GetDigest()}
}

func GetDirectoryRequestToTvix(r *GetDirectoryRequest) *pb.GetDirectoryRequest {
	out := &pb.GetDirectoryRequest{Recursive: r.GetRecursive()}
	if by, ok := r.GetByWhat().(*GetDirectoryRequest_Digest); ok {
		out.ByWhat = &pb.GetDirectoryRequest_Digest{Digest: by.Digest}
	}
	return out
}

func PutDirectoryResponseFromTvix(r *pb.PutDirectoryResponse) *PutDirectoryResponse {
	return &PutDirectoryResponse{RootDigest: r.GetRootDigest()}
}

// FromChunks returns the BlobMeta of a blob made of chunks.
func FromChunks(chunks []castore.ChunkMeta) *BlobMeta {
	m := &BlobMeta{Chunks: make([]*BlobMeta_ChunkMeta, len(chunks))}
	for i, c := range chunks {
		m.Chunks[i] = &BlobMeta_ChunkMeta{Digest: c.Digest[:], Size: c.Size}
	}
	return m
}

// ToChunks validates a BlobMeta a client sent and converts it: every
// digest 32 bytes, every size non-zero, the total within uint64 (returned
// too). Errors wrap castore.ErrInvalid and name the chunk. It does not
// check that the chunks make the blob: that needs their bytes.
func ToChunks(m *BlobMeta) ([]castore.ChunkMeta, uint64, error) {
	out := make([]castore.ChunkMeta, len(m.GetChunks()))
	var total uint64
	for i, c := range m.GetChunks() {
		d, err := castore.DigestFromBytes(c.GetDigest())
		if err != nil {
			return nil, 0, fmt.Errorf("chunk #%d: %w: %w", i, castore.ErrInvalid, err)
		}
		if c.GetSize() == 0 {
			return nil, 0, fmt.Errorf("chunk #%d (%s) has size 0: %w", i, d, castore.ErrInvalid)
		}
		var carry uint64
		if total, carry = bits.Add64(total, c.GetSize(), 0); carry != 0 {
			return nil, 0, fmt.Errorf("chunk sizes overflow uint64 at chunk #%d: %w", i, castore.ErrInvalid)
		}
		out[i] = castore.ChunkMeta{Digest: d, Size: c.GetSize()}
	}
	return out, total, nil
}

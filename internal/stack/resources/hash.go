package resources

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// configHashLen is the number of hex digits of a config hash (64 bits).
const configHashLen = 16

// ConfigHash is a short hex sha256 of config files given as name, content pairs:
// ConfigHash("haproxy.cfg", cfg). Each name and content is length-prefixed, so no two
// different sets of files hash alike by shifting bytes between them, and a renamed file
// changes the hash. A trailing name without content counts as empty content.
func ConfigHash(files ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, s := range files {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	if len(files)%2 == 1 {
		binary.BigEndian.PutUint64(n[:], 0)
		h.Write(n[:])
	}
	return hex.EncodeToString(h.Sum(nil))[:configHashLen]
}

// filesHash is ConfigHash over every entry of data, in name order.
func filesHash(data map[string]string) string {
	names := slices.Sorted(maps.Keys(data))
	pairs := make([]string, 0, 2*len(names))
	for _, n := range names {
		pairs = append(pairs, n, data[n])
	}
	return ConfigHash(pairs...)
}

// required returns the rendered file name, or an error naming what is missing.
func required(name, content string) (string, error) {
	if strings.TrimSpace(content) == "" {
		return "", fmt.Errorf("the rendered config has no %s: pass render.Render's result for this spec", name)
	}
	return content, nil
}

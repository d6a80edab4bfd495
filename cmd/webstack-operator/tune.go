package main

import (
	"errors"
	"io"
)

// runTune is implemented by the tuning work (issue 3); placeholder until it lands.
func runTune(args []string, stdout, stderr io.Writer) error {
	return errors.New("tune is not built yet")
}

package pdp

// EncodedSize is the size of req as the client sends it to Cerbos, for the size tests.
func EncodedSize(req Request) (int, error) {
	in, err := toProto(req)
	if err != nil {
		return 0, err
	}
	return in.SizeVT(), nil
}

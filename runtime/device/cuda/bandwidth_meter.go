package cuda

// MemoryBandwidth reports MeasureBandwidth's rates by name, in bytes per
// second (MeasureBandwidth's are GB/s): "weights" is the device-memory read
// rate, since weights are device resident.
func (d *Device) MemoryBandwidth() (map[string]float64, error) {
	bw, err := d.MeasureBandwidth()
	if err != nil {
		return nil, err
	}
	return map[string]float64{
		"weights":     bw.DeviceRead * 1e9,
		"device_read": bw.DeviceRead * 1e9,
		"htod_pinned": bw.HtoDPinned * 1e9,
		"mapped_read": bw.MappedRead * 1e9,
	}, nil
}

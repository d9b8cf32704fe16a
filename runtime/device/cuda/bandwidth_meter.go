package cuda

// MemoryBandwidth reports MeasureBandwidth's rates by name for experiments:
// "weights" is the device-memory read rate (weights are device resident).
func (d *Device) MemoryBandwidth() (map[string]float64, error) {
	bw, err := d.MeasureBandwidth()
	if err != nil {
		return nil, err
	}
	return map[string]float64{
		"weights":     bw.DeviceRead,
		"device_read": bw.DeviceRead,
		"htod_pinned": bw.HtoDPinned,
		"mapped_read": bw.MappedRead,
	}, nil
}

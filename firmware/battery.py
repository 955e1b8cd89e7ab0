# Battery or UPS voltage through a resistor divider into an ADC pin.


class Battery:
    def __init__(self, adc, divider_num=57, divider_den=10, vref_mv=3300):
        # Default divider: 47k over 10k, so 5.7 V at the battery is 1 V at the pin.
        self.adc = adc
        self.num = divider_num
        self.den = divider_den
        self.vref = vref_mv
        self.millivolts = 0

    def read(self):
        pin_mv = (self.adc.read_u16() * self.vref) >> 16
        self.millivolts = pin_mv * self.num // self.den
        return self.millivolts

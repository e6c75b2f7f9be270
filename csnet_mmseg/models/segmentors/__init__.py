from .csnet_encoder_decoder import CSNetEncoderDecoder

__all__ = ['CSNetEncoderDecoder']

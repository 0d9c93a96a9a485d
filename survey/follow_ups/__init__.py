"""follow_ups"""

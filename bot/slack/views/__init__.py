"""slack/views"""

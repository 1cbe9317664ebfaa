"""The checks of every step: static (serverless.yml and handlers), live (the deployed account) and behaviour (ride requests).

`registry` lists them without importing boto3 or cfn-lint; each family module is imported only when one of its checks runs.
"""

'use strict';
// Loaded by osls through NODE_OPTIONS=--require on the aws target of a class account (docs/instructor.md).
// It sets what the learner's serverless.yml must not have to say, once osls has resolved its variables:
//   provider.iam.deploymentRole           <- WORKSHOP_DEPLOYMENT_ROLE (CloudFormation deploys through that role)
//   provider.iam.role.permissionsBoundary <- WORKSHOP_PERMISSIONS_BOUNDARY (the roles the stack makes are bounded)
// The learner's files are never edited. A value the file already sets is replaced: the account's policy requires these.
const Module = require('module');

const role = process.env.WORKSHOP_DEPLOYMENT_ROLE;
const boundary = process.env.WORKSHOP_PERMISSIONS_BOUNDARY;
const SERVICE_JS = /[\\/]osls[\\/]lib[\\/]classes[\\/]service\.js$/;

function apply(provider) {
  if (!provider || typeof provider !== 'object') return;
  if (provider.iam == null || typeof provider.iam !== 'object') provider.iam = {};
  if (role) provider.iam.deploymentRole = role;
  if (boundary) {
    if (provider.iam.role == null) provider.iam.role = {};
    // a role given by ARN is not made by the stack: nothing to bound
    if (typeof provider.iam.role === 'object' && !Array.isArray(provider.iam.role)) {
      provider.iam.role.permissionsBoundary = boundary;
    }
  }
}

function patch(Service) {
  if (!Service || !Service.prototype || Service.prototype.__workshopClassAccount) return;
  const setFunctionNames = Service.prototype.setFunctionNames;
  Service.prototype.setFunctionNames = function workshopSetFunctionNames(...args) {
    apply(this.provider);
    if (this.initialServerlessConfig && this.initialServerlessConfig.provider !== this.provider) {
      apply(this.initialServerlessConfig.provider);
    }
    return setFunctionNames.apply(this, args);
  };
  Service.prototype.__workshopClassAccount = true;
}

if (role || boundary) {
  const load = Module._load;
  Module._load = function workshopLoad(request, parent, isMain) {
    const exported = load.apply(this, arguments);
    if (typeof request === 'string' && request.includes('service')) {
      try {
        if (SERVICE_JS.test(Module._resolveFilename(request, parent, isMain))) patch(exported);
      } catch (error) {
        // not a file we know: leave it alone
      }
    }
    return exported;
  };
}

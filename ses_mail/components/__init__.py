"""The Pulumi components: they turn the pure specs into AWS resources, parented to themselves."""

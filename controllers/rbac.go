package controllers

// Exactly the verbs the reconciler uses; controller-gen turns these into config/rbac/role.yaml.
// Children are written with server-side apply (patch; the API server authorises an apply that
// creates an object as create too), credential Secrets and migration Jobs with create, the
// status and finalizers with merge patches; nothing calls Update. update on
// webstacks/finalizers is what the OwnerReferencesPermissionEnforcement admission plugin asks
// of a writer that sets blockOwnerDeletion on an owner reference to a WebStack.
//
// +kubebuilder:rbac:groups=webstack.dev,resources=webstacks,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=webstack.dev,resources=webstacks/status,verbs=get;patch
// +kubebuilder:rbac:groups=webstack.dev,resources=webstacks/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=services;configmaps,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;patch;delete
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

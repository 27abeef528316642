//! Which Ingresses this router serves: IngressClass selection.
//!
//! Mirrors how ingress-nginx picks its Ingresses (`internal/ingress/controller/store`
//! `IsValid` and the IngressClass handling around it) and the Ingress API's class rules:
//!
//! 1. the old `kubernetes.io/ingress.class` annotation, when present, decides alone;
//! 2. else `spec.ingressClassName` names the class;
//! 3. an Ingress with neither is served when an IngressClass of ours is marked
//!    `ingressclass.kubernetes.io/is-default-class: "true"` (what the API server's admission
//!    would have written into it), or when the router is told to watch classless Ingresses
//!    (ingress-nginx's `--watch-ingress-without-class`).
//!
//! A class is ours when its name is one Skiff serves (`skiff`, and `nginx` so that tutorials'
//! manifests work unchanged), or when its IngressClass names Skiff's or ingress-nginx's
//! controller. Everything else belongs to another controller and is left alone.
//!
//! Left out: IngressClass `parameters`, and ingress-nginx's `--ingress-class-by-name` nuances.

use std::sync::Arc;

use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

/// The old annotation that named an Ingress's class before `ingressClassName`.
pub const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
/// Marks the IngressClass that classless Ingresses belong to.
pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";
/// `spec.controller` of Skiff's own IngressClass.
pub const SKIFF_CONTROLLER: &str = "skiff.dev/ingress";
/// `spec.controller` of ingress-nginx's IngressClass, whose Ingresses Skiff serves too.
pub const NGINX_CONTROLLER: &str = "k8s.io/ingress-nginx";

/// What makes an Ingress ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassFilter {
    /// Class names served whether or not an IngressClass object exists.
    pub names: Vec<String>,
    /// Serve Ingresses that name no class even without a default IngressClass.
    pub watch_without_class: bool,
}

impl Default for ClassFilter {
    fn default() -> Self {
        ClassFilter { names: vec!["skiff".into(), "nginx".into()], watch_without_class: false }
    }
}

impl ClassFilter {
    /// Whether the class called `name` is ours, by its name or by its IngressClass' controller.
    fn is_ours(&self, name: &str, classes: &[Arc<IngressClass>]) -> bool {
        self.names.iter().any(|ours| ours == name)
            || classes.iter().any(|class| {
                class.metadata.name.as_deref() == Some(name)
                    && class.spec.as_ref().and_then(|spec| spec.controller.as_deref()).is_some_and(is_our_controller)
            })
    }

    /// Whether this router serves `ingress`.
    pub fn serves(&self, ingress: &Ingress, classes: &[Arc<IngressClass>]) -> bool {
        let annotation = ingress.metadata.annotations.as_ref().and_then(|a| a.get(CLASS_ANNOTATION));
        if let Some(name) = annotation.filter(|name| !name.is_empty()) {
            return self.is_ours(name, classes);
        }
        if let Some(name) = ingress.spec.as_ref().and_then(|spec| spec.ingress_class_name.as_deref()) {
            return self.is_ours(name, classes);
        }
        self.watch_without_class
            || classes.iter().any(|class| is_default(class) && self.is_ours(name_of(class), classes))
    }
}

fn is_our_controller(controller: &str) -> bool {
    controller == SKIFF_CONTROLLER || controller == NGINX_CONTROLLER
}

fn name_of(class: &IngressClass) -> &str {
    class.metadata.name.as_deref().unwrap_or_default()
}

fn is_default(class: &IngressClass) -> bool {
    class.metadata.annotations.as_ref().and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION)).is_some_and(|v| v == "true")
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::networking::v1::{IngressClassSpec, IngressSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn ingress(class_name: Option<&str>, annotation: Option<&str>) -> Ingress {
        let annotations = annotation.map(|class| [(CLASS_ANNOTATION.to_string(), class.to_string())].into());
        Ingress {
            metadata: ObjectMeta { name: Some("web".into()), annotations, ..Default::default() },
            spec: Some(IngressSpec { ingress_class_name: class_name.map(str::to_string), ..Default::default() }),
            ..Default::default()
        }
    }

    fn class(name: &str, controller: &str, default: bool) -> Arc<IngressClass> {
        let annotations = default.then(|| [(DEFAULT_CLASS_ANNOTATION.to_string(), "true".to_string())].into());
        Arc::new(IngressClass {
            metadata: ObjectMeta { name: Some(name.into()), annotations, ..Default::default() },
            spec: Some(IngressClassSpec { controller: Some(controller.into()), ..Default::default() }),
        })
    }

    #[test]
    fn classes_select_the_ingresses_served() {
        let none: Vec<Arc<IngressClass>> = Vec::new();
        let traefik_default = vec![class("traefik", "traefik.io/ingress-controller", true)];
        let ours_default = vec![class("public", NGINX_CONTROLLER, true)];
        let ours_not_default = vec![class("public", SKIFF_CONTROLLER, false)];
        // (case, ingressClassName, annotation, IngressClasses, served)
        let cases = [
            ("class name skiff", Some("skiff"), None, &none, true),
            ("class name nginx", Some("nginx"), None, &none, true),
            ("another class name", Some("traefik"), None, &none, false),
            ("annotation nginx", None, Some("nginx"), &none, true),
            ("annotation of another controller", None, Some("traefik"), &none, false),
            ("the annotation decides over the class name", Some("skiff"), Some("traefik"), &none, false),
            ("a class of our controller under another name", Some("public"), None, &ours_not_default, true),
            ("no class and no default class", None, None, &none, false),
            ("no class, and our class is the default", None, None, &ours_default, true),
            ("no class, and another controller's class is the default", None, None, &traefik_default, false),
        ];
        for (case, class_name, annotation, classes, served) in cases {
            assert_eq!(ClassFilter::default().serves(&ingress(class_name, annotation), classes), served, "{case}");
        }
    }

    #[test]
    fn watching_without_class_serves_classless_ingresses_only() {
        let filter = ClassFilter { watch_without_class: true, ..ClassFilter::default() };
        assert!(filter.serves(&ingress(None, None), &[]));
        assert!(!filter.serves(&ingress(Some("traefik"), None), &[]));
    }
}

"""The class: owners and the class link (roles), and the teacher's controls on the Class page (admin)."""

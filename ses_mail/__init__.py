"""ses-mail: a roster of sending domains and people becomes Amazon SES identities authenticated in
DNS and one SMTP credential per person that can send only as that person's own address."""

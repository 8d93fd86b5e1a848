package ldaptest

// Passwords of the SampleLDIF users.
const (
	JanePassword = "Passw0rd-Jane"
	JohnPassword = "Passw0rd-John"
)

// SampleLDIF holds two people and two groups:
//
//	uid=jane,ou=people,dc=example,dc=org  cn "Jane Doe", jane@example.org
//	uid=john,ou=people,dc=example,dc=org  cn "John Smith", john@example.org
//	cn=admins,ou=groups,dc=example,dc=org      groupOfNames, member jane
//	cn=developers,ou=groups,dc=example,dc=org  groupOfNames, members jane and john
//
// The passwords are stored as {SSHA} hashes made by slappasswd, as a real
// directory would hold them (slapd accepts clear-text userPassword too);
// TestSamplePasswordHashes checks they match JanePassword and JohnPassword.
const SampleLDIF = `dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: uid=jane,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: jane
cn: Jane Doe
givenName: Jane
sn: Doe
mail: jane@example.org
userPassword: {SSHA}KrJJwc8oiXbAhQLOxy6EKVwQUUeemUff

dn: uid=john,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: john
cn: John Smith
givenName: John
sn: Smith
mail: john@example.org
userPassword: {SSHA}hyaFOejptwaIALELk7009itnqO4FwdIK

dn: ou=groups,dc=example,dc=org
objectClass: organizationalUnit
ou: groups

dn: cn=admins,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: admins
member: uid=jane,ou=people,dc=example,dc=org

dn: cn=developers,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: developers
member: uid=jane,ou=people,dc=example,dc=org
member: uid=john,ou=people,dc=example,dc=org
`
